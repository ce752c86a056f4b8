namespace Mesh.Containers;

/// <summary>The labels Mesh.Containers puts on what it creates, so that resources can be found and cleaned up
/// without a privileged sidecar.</summary>
public static class DockerLabels
{
    /// <summary>On every container and network a session creates: <c>true</c>.</summary>
    public const string Managed = "mesh.containers";

    /// <summary>The id of the session that owns the resource.</summary>
    public const string SessionId = "mesh.containers.session";

    /// <summary>The process id of the session's owning process.</summary>
    public const string ProcessId = "mesh.containers.pid";

    /// <summary>The start time of the owning process (UTC ticks), so a reused process id is not mistaken for the owner.</summary>
    public const string ProcessStart = "mesh.containers.pid-start";

    /// <summary>The host name of the owning process's machine; only resources of this machine are swept.</summary>
    public const string Host = "mesh.containers.host";
}
