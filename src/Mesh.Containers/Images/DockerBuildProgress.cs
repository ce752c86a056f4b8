namespace Mesh.Containers;

/// <summary>One line of progress of an image build (engine output or, for .NET images, <c>dotnet publish</c> output).</summary>
/// <param name="Message">The line.</param>
/// <param name="Step">The build step being run when the line was written (for example <c>Step 2/4 : COPY www /www</c>), if known.</param>
public readonly record struct DockerBuildProgress(string Message, string? Step)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}
