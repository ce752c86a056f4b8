namespace Mesh.Containers;

/// <summary>Options of a <see cref="DockerSession"/>.</summary>
public sealed class DockerSessionOptions
{
    /// <summary>How to reach the engine when the session connects itself.</summary>
    public DockerEngineOptions Engine { get; set; } = new();

    /// <summary>Whether starting the session removes containers and networks of earlier sessions whose process is gone.</summary>
    /// <value><see langword="true"/>.</value>
    public bool SweepOnStart { get; set; } = true;

    /// <summary>How long disposing the session may take to remove its containers and networks.</summary>
    /// <value>30 seconds.</value>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
