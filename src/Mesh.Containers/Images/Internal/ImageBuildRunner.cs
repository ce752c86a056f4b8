using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

/// <summary>Runs one engine build (the classic builder, which every engine since 1.41 speaks) and reports its output.</summary>
internal static class ImageBuildRunner
{
    private const int OutputLinesKept = 30;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> s_locks = new(StringComparer.Ordinal);

    /// <summary>Serialises builds of one reference within the process: concurrent callers wait, then find the image cached
    /// (and two publishes of one project never share its obj/ folder at once).</summary>
    public static async Task<Releaser> LockAsync(string reference, CancellationToken cancellationToken)
    {
        var gate = s_locks.GetOrAdd(reference, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(gate);
    }

    public readonly struct Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    /// <summary>The image tagged with the content hash, when it exists. The tag carries 128 bits of the hash, so an
    /// existing tag means the same inputs; no label is baked into the image (a LABEL is one more build step, and a
    /// cache miss for every step after it when it changes).</summary>
    public static async Task<DockerImage?> GetCachedAsync(DockerEngine engine, string reference, string contentHash, CancellationToken cancellationToken)
    {
        try
        {
            var image = await engine.Client.Images.InspectImageAsync(reference, cancellationToken).ConfigureAwait(false);
            return new DockerImage(image.ID, reference, contentHash, FromCache: true);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        catch (DockerApiException e)
        {
            throw EngineErrors.Wrap($"Looking up image '{reference}'", e);
        }
        catch (Exception e) when (EngineErrors.TranslateUnreachable($"Looking up image '{reference}'", e) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The tag for a content hash: its first 32 hex digits (128 bits).</summary>
    public static string TagOf(string contentHash) => contentHash[..32];

    public static async Task<DockerImage> BuildAsync(
        DockerEngine engine,
        BuildContext context,
        string reference,
        string contentHash,
        string dockerfile,
        IReadOnlyDictionary<string, string> buildArgs,
        string? target,
        IProgress<DockerBuildProgress>? progress,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        var output = new Queue<string>();
        string? step = null;
        string? error = null;
        string? failingStep = null;
        var reporter = new SynchronousProgress<JSONMessage>(message =>
        {
            var text = message.Stream ?? message.Status;
            var errorText = message.Error?.Message;
            if (!string.IsNullOrWhiteSpace(errorText))
            {
                error = errorText.Trim();
                failingStep = step;
                Remember(output, "ERROR: " + error);
                progress?.Report(new DockerBuildProgress("ERROR: " + error, step));
                ImageLog.BuildOutput(logger, reference, "ERROR: " + error);
                return;
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                return;
            }

            foreach (var raw in text.Split('\n'))
            {
                var line = raw.TrimEnd('\r');
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                if (line.StartsWith("Step ", StringComparison.Ordinal))
                {
                    step = line.Trim();
                }

                Remember(output, line);
                progress?.Report(new DockerBuildProgress(line, step));
                ImageLog.BuildOutput(logger, reference, line);
            }
        });

        await using var archive = await context.CreateArchiveAsync(cancellationToken).ConfigureAwait(false);
        var parameters = new ImageBuildParameters
        {
            Tags = [reference],
            Dockerfile = dockerfile,
            BuildArgs = buildArgs.Count == 0 ? null : new Dictionary<string, string>(buildArgs),
            Target = target,
            Remove = true,
            ForceRemove = true,
            Version = "1",
        };
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await engine.Client.Images.BuildImageFromDockerfileAsync(parameters, archive, null, null, reporter, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            error = EngineErrors.MessageOf(e.ResponseBody);
            failingStep ??= step;
        }
        catch (Exception e) when (EngineErrors.TranslateUnreachable($"Building image '{reference}'", e) is { } translated)
        {
            throw translated;
        }

        if (error is not null)
        {
            var lines = output.ToArray();
            throw new DockerImageBuildException(
                $"Building image '{reference}' failed{(failingStep is null ? "" : " at '" + failingStep + "'")}: {error}" +
                Environment.NewLine + string.Join(Environment.NewLine, lines.Select(l => "  | " + l)),
                failingStep, error, lines);
        }

        try
        {
            var image = await engine.Client.Images.InspectImageAsync(reference, cancellationToken).ConfigureAwait(false);
            ImageLog.Built(logger, reference, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new DockerImage(image.ID, reference, contentHash, FromCache: false);
        }
        catch (DockerApiException e)
        {
            throw new DockerImageBuildException(
                $"Building image '{reference}' ended without an error, but the image is missing: {EngineErrors.MessageOf(e.ResponseBody)}",
                step, EngineErrors.MessageOf(e.ResponseBody), output.ToArray(), e);
        }
    }

    private static void Remember(Queue<string> output, string line)
    {
        output.Enqueue(line);
        while (output.Count > OutputLinesKept)
        {
            output.Dequeue();
        }
    }

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool and reorder).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
