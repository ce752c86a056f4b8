using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>
/// Builds an image from a Dockerfile and a context directory through the Engine API (no docker CLI).
/// The context honours <c>.dockerignore</c> with the engine's semantics (including <c>!</c> re-includes) and is tarred
/// in memory, or through a temporary file when large. The image is tagged <c>repository:content-hash</c> (128 bits of a SHA-256 of the inputs), so a build whose
/// inputs did not change finds its image and sends nothing to the engine. Immutable: every <c>With…</c> returns a new builder.
/// </summary>
public sealed partial class DockerImageBuilder
{
    private readonly string _contextDirectory;
    private string _dockerfile = "Dockerfile";
    private string? _dockerfileContent;
    private string? _repository;
    private string? _target;
    private ImmutableSortedDictionary<string, string> _buildArgs = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);
    private IProgress<DockerBuildProgress>? _progress;
    private bool _useContentCache = true;
    private TimeSpan _timeout = TimeSpan.FromMinutes(10);

    /// <summary>Starts a build of the context in <paramref name="contextDirectory"/>.</summary>
    /// <param name="contextDirectory">The build context directory.</param>
    public DockerImageBuilder(string contextDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(contextDirectory);
        _contextDirectory = Path.GetFullPath(contextDirectory);
    }

    /// <summary>Uses the Dockerfile at <paramref name="relativePath"/> in the context (default <c>Dockerfile</c>).</summary>
    /// <param name="relativePath">The path relative to the context directory.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithDockerfile(string relativePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(relativePath);
        return With(b => { b._dockerfile = relativePath.Replace('\\', '/'); b._dockerfileContent = null; });
    }

    /// <summary>Uses Dockerfile text given here instead of a file in the context.</summary>
    /// <param name="content">The Dockerfile text.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithDockerfileContent(string content)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(content);
        return With(b => b._dockerfileContent = content);
    }

    /// <summary>Sets the image repository (default: <c>mesh/</c> + the context directory's name); the tag is always the content hash.</summary>
    /// <param name="repository">A lowercase repository name such as <c>mesh/web</c>.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithRepository(string repository)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        if (!RepositoryPattern().IsMatch(repository))
        {
            throw new ArgumentException($"'{repository}' is not a valid repository name; use lowercase letters, digits and . _ - / (for example mesh/web).", nameof(repository));
        }

        return With(b => b._repository = repository);
    }

    /// <summary>Sets a build argument (<c>ARG</c> in the Dockerfile).</summary>
    /// <param name="name">The argument name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithBuildArg(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return With(b => b._buildArgs = b._buildArgs.SetItem(name, value));
    }

    /// <summary>Builds only up to the named stage of a multi-stage Dockerfile.</summary>
    /// <param name="target">The stage name.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithTarget(string target)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(target);
        return With(b => b._target = target);
    }

    /// <summary>Streams build output to <paramref name="progress"/> as it arrives (it is also logged at Debug level).</summary>
    /// <param name="progress">The receiver; called on the build's thread, in order.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithProgress(IProgress<DockerBuildProgress> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return With(b => b._progress = progress);
    }

    /// <summary>Whether an existing image with the same content hash is reused without building (default <see langword="true"/>).</summary>
    /// <param name="enabled">Whether to reuse.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithContentCache(bool enabled) => With(b => b._useContentCache = enabled);

    /// <summary>Bounds the build (default 10 minutes).</summary>
    /// <param name="timeout">The limit; must be positive.</param>
    /// <returns>A new builder.</returns>
    public DockerImageBuilder WithTimeout(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        return With(b => b._timeout = timeout);
    }

    /// <summary>Builds the image, or finds it when its content hash is unchanged.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <returns>The image.</returns>
    /// <exception cref="DockerImageBuildException">A step failed: the exception names the step and carries the engine's message.</exception>
    /// <exception cref="DirectoryNotFoundException">The context directory does not exist.</exception>
    public async Task<DockerImage> BuildAsync(DockerEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!Directory.Exists(_contextDirectory))
        {
            throw new DirectoryNotFoundException($"The build context directory '{_contextDirectory}' does not exist.");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_timeout);
        var logger = engine.LoggerFactory.CreateLogger<DockerImageBuilder>();
        var context = new BuildContext();
        var dockerfile = _dockerfile;
        var alwaysInclude = new HashSet<string>(StringComparer.Ordinal) { ".dockerignore" };
        if (_dockerfileContent is null)
        {
            if (!File.Exists(Path.Combine(_contextDirectory, dockerfile)))
            {
                throw new FileNotFoundException($"No Dockerfile at '{Path.Combine(_contextDirectory, dockerfile)}'; set another with WithDockerfile or WithDockerfileContent.");
            }

            alwaysInclude.Add(dockerfile);
        }

        await Task.Run(() => context.AddDirectoryTree(_contextDirectory, DockerIgnore.Load(_contextDirectory), alwaysInclude: alwaysInclude), cts.Token).ConfigureAwait(false);
        if (_dockerfileContent is not null)
        {
            dockerfile = ".mesh-generated.Dockerfile";
            context.AddContent(dockerfile, Encoding.UTF8.GetBytes(_dockerfileContent));
        }

        var hash = await Task.Run(() => context.ComputeHash(Settings(dockerfile)), cts.Token).ConfigureAwait(false);
        var reference = $"{_repository ?? DefaultRepository(_contextDirectory)}:{ImageBuildRunner.TagOf(hash)}";
        try
        {
            using var gate = await ImageBuildRunner.LockAsync(reference, cts.Token).ConfigureAwait(false);
            if (_useContentCache && await ImageBuildRunner.GetCachedAsync(engine, reference, hash, cts.Token).ConfigureAwait(false) is { } cached)
            {
                ImageLog.CacheHit(logger, reference);
                _progress?.Report(new DockerBuildProgress($"Using cached image {reference} (content hash unchanged)", null));
                return cached;
            }

            return await ImageBuildRunner.BuildAsync(engine, context, reference, hash, dockerfile, _buildArgs, _target, _progress, logger, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Building image '{reference}' took longer than {_timeout.TotalSeconds:0} s.", e);
        }
    }

    internal static string DefaultRepository(string directory)
    {
        var name = new string(Path.GetFileName(directory.TrimEnd('/', '\\')).ToLowerInvariant()
            .Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray()).Trim('.', '_', '-');
        return "mesh/" + (name.Length == 0 ? "image" : name);
    }

    private IEnumerable<string> Settings(string dockerfile)
    {
        yield return "dockerfile=" + dockerfile;
        yield return "target=" + _target;
        foreach (var (name, value) in _buildArgs)
        {
            yield return $"arg:{name}={value}";
        }
    }

    private DockerImageBuilder With(Action<DockerImageBuilder> change)
    {
        var copy = (DockerImageBuilder)MemberwiseClone();
        change(copy);
        return copy;
    }

    [GeneratedRegex("^[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();
}
