using System.Diagnostics;

namespace Mesh.Containers.Internal;

/// <summary>Runs a tool to completion with a timeout, streaming its output lines; kills the tool (and its children) on timeout or cancellation.</summary>
internal static class ProcessRunner
{
    public sealed record Result(int ExitCode, IReadOnlyList<string> Output);

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string? workingDirectory, Action<string>? onLine, Action<IDictionary<string, string?>>? environment, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        environment?.Invoke(info.Environment);
        using var process = new Process { StartInfo = info };
        var output = new List<string>();
        void Collect(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.Add(line);
            }

            onLine?.Invoke(line);
        }

        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start '{fileName}'.");
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            throw;
        }

        lock (output)
        {
            return new Result(process.ExitCode, output.ToArray());
        }
    }
}
