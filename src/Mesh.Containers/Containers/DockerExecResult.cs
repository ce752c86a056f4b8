namespace Mesh.Containers;

/// <summary>The outcome of <see cref="DockerContainer.ExecAsync(IReadOnlyList{string}, CancellationToken)"/>.</summary>
/// <param name="ExitCode">The command's exit code.</param>
/// <param name="StandardOutput">Everything the command wrote to standard output.</param>
/// <param name="StandardError">Everything the command wrote to standard error.</param>
public sealed record DockerExecResult(long ExitCode, string StandardOutput, string StandardError);
