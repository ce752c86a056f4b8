using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>
/// Turns an application that is already built, framework-dependent, into a <c>FROM scratch</c> image that runs on the .NET
/// runtime of this machine: the folder of the entry assembly (with its <c>.runtimeconfig.json</c> and the assemblies it
/// needs) goes to <c>/app</c>, the shared frameworks its runtime configuration names (<c>Microsoft.NETCore.App</c>,
/// <c>Microsoft.AspNetCore.App</c>, ...) are copied from this machine's .NET installation, with the <c>dotnet</c> host and
/// the shared libraries <c>ldd</c> lists for them (plus <c>libssl.so.3</c> and <c>libcrypto.so.3</c>). No SDK, no publish
/// and no restore: only the engine build runs, and the tag is a hash of the inputs, so an unchanged app is not built again.
/// </summary>
/// <remarks>
/// This machine must run Linux on the engine's architecture (the runtime's files are copied as they are) and have
/// <c>ldd</c>. The image runs with invariant globalization (no ICU inside), sets <c>ASPNETCORE_HTTP_PORTS=8080</c> and
/// exposes 8080 unless told otherwise, and its <see cref="DockerImage.RequiresInit"/> is set, as for
/// <see cref="DotNetImageBuilder"/>. For a project that is not built yet, or to run on another runtime version, use
/// <see cref="DotNetImageBuilder"/> (a self-contained publish). Immutable: every <c>With…</c> returns a new builder.
/// </remarks>
public sealed class DotNetAppImageBuilder
{
    /// <summary>Where the .NET installation lives inside the image.</summary>
    public const string DotNetRoot = "/usr/share/dotnet";

    private readonly string _entryAssembly;
    private string? _repository;
    private ImmutableSortedDictionary<string, string> _environment = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal)
        .Add("ASPNETCORE_HTTP_PORTS", "8080")
        .Add("DOTNET_EnableDiagnostics", "0")
        .Add("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1");
    private ImmutableSortedSet<int> _ports = [8080];
    private IProgress<DockerBuildProgress>? _progress;
    private bool _useContentCache = true;
    private TimeSpan _timeout = TimeSpan.FromMinutes(5);

    /// <summary>Starts an image of the application whose entry assembly is <paramref name="entryAssemblyPath"/>; every file of
    /// its folder (and of the folders below it) goes into the image.</summary>
    /// <param name="entryAssemblyPath">The entry assembly (<c>App.dll</c>), beside its <c>App.runtimeconfig.json</c>.</param>
    /// <exception cref="FileNotFoundException">The assembly or its runtime configuration is missing.</exception>
    public DotNetAppImageBuilder(string entryAssemblyPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(entryAssemblyPath);
        var full = Path.GetFullPath(entryAssemblyPath);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"The entry assembly '{full}' does not exist.", full);
        }

        if (!File.Exists(RuntimeConfigOf(full)))
        {
            throw new FileNotFoundException(
                $"'{RuntimeConfigOf(full)}' does not exist: the application must be built framework-dependent (an executable project's build output has it).",
                RuntimeConfigOf(full));
        }

        _entryAssembly = full;
    }

    /// <summary>Sets the image repository (default: <c>mesh/</c> + the entry assembly's name in lowercase); the tag is the input hash.</summary>
    /// <param name="repository">A lowercase repository name.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithRepository(string repository)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        return With(b => b._repository = repository);
    }

    /// <summary>Bakes an environment variable into the image (<c>ENV</c>).</summary>
    /// <param name="name">The variable name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithEnvironment(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return With(b => b._environment = b._environment.SetItem(name, value));
    }

    /// <summary>Declares the ports the image exposes (<c>EXPOSE</c>), replacing the default 8080.</summary>
    /// <param name="ports">The TCP ports.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithExposedPorts(params int[] ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        return With(b => b._ports = [.. ports]);
    }

    /// <summary>Streams the engine's build output to <paramref name="progress"/>.</summary>
    /// <param name="progress">The receiver; called in order.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithProgress(IProgress<DockerBuildProgress> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return With(b => b._progress = progress);
    }

    /// <summary>Whether an existing image with the same input hash is reused without building (default <see langword="true"/>).</summary>
    /// <param name="enabled">Whether to reuse.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithContentCache(bool enabled) => With(b => b._useContentCache = enabled);

    /// <summary>Bounds the build (default 5 minutes).</summary>
    /// <param name="timeout">The limit; must be positive.</param>
    /// <returns>A new builder.</returns>
    public DotNetAppImageBuilder WithTimeout(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        return With(b => b._timeout = timeout);
    }

    /// <summary>Builds the image, or finds it when nothing changed.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <returns>The image (<see cref="DockerImage.RequiresInit"/> set).</returns>
    /// <exception cref="PlatformNotSupportedException">This process does not run on Linux.</exception>
    /// <exception cref="DockerImageBuildException">A framework the application needs is not installed here, or the engine's build failed.</exception>
    public async Task<DockerImage> BuildAsync(DockerEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(
                $"An image of '{Path.GetFileName(_entryAssembly)}' is made of this machine's .NET runtime, which must be a Linux one ({RuntimeInformation.RuntimeIdentifier} here); use DotNetImageBuilder (a self-contained publish for linux-x64 or linux-arm64) instead.");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_timeout);
        var logger = engine.LoggerFactory.CreateLogger<DotNetAppImageBuilder>();
        try
        {
            var layout = await Task.Run(() => Layout.Create(_entryAssembly), cts.Token).ConfigureAwait(false);
            var (context, hash) = await CreateContextAsync(layout, cts.Token).ConfigureAwait(false);
            var name = Path.GetFileNameWithoutExtension(_entryAssembly);
            var reference = $"{_repository ?? "mesh/" + Sanitize(name)}:{ImageBuildRunner.TagOf(hash)}";
            using var gate = await ImageBuildRunner.LockAsync(reference, cts.Token).ConfigureAwait(false);
            if (_useContentCache && await ImageBuildRunner.GetCachedAsync(engine, reference, hash, cts.Token).ConfigureAwait(false) is { } cached)
            {
                ImageLog.CacheHit(logger, reference);
                _progress?.Report(new DockerBuildProgress($"Using cached image {reference} (inputs unchanged)", null));
                return cached with { RequiresInit = true };
            }

            var built = await ImageBuildRunner.BuildAsync(engine, context, reference, hash, "Dockerfile", ImmutableDictionary<string, string>.Empty, null, _progress, logger, cts.Token).ConfigureAwait(false);
            return built with { RequiresInit = true };
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Building the image of '{_entryAssembly}' took longer than {_timeout.TotalSeconds:0} s.", e);
        }
    }

    private async Task<(BuildContext Context, string Hash)> CreateContextAsync(Layout layout, CancellationToken cancellationToken)
    {
        var nativeFiles = layout.Frameworks.SelectMany(f => Directory.EnumerateFiles(f.Directory, "*.so", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(layout.AppDirectory, "*.so", SearchOption.AllDirectories))
            .Where(f => !Path.GetFileName(f).StartsWith("libcoreclrtraceptprovider", StringComparison.Ordinal))
            .Append(layout.Muxer)
            .Append(layout.HostFxr);
        var libraries = await NativeLibraryCollector.CollectAsync(nativeFiles, cancellationToken).ConfigureAwait(false);

        const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
            UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        var context = new BuildContext();

        // What is hashed: the application's bytes, the Dockerfile, and for the runtime and the system libraries (large, and
        // changed only by an update) their paths, sizes and modification times.
        var fingerprints = new List<string>();
        // Two layers: the runtime and the system libraries (the same for every app built on this machine, so the engine
        // stores them once) and the app.
        context.AddDirectory("runtime/tmp", UnixFileMode.StickyBit | (UnixFileMode)0x1FF);
        var app = new BuildContext();
        app.AddDirectoryTree(layout.AppDirectory, DockerIgnore.Empty, "app/app/");
        foreach (var entry in app.Entries)
        {
            context.AddFile(entry.ArchivePath, entry.SourcePath!, entry.Mode);
        }

        void AddRuntimeFile(string archivePath, string source, UnixFileMode? mode = null)
        {
            context.AddFile(archivePath, source, mode);
            var info = new FileInfo(source);
            fingerprints.Add(string.Create(CultureInfo.InvariantCulture, $"{archivePath}:{info.Length}:{info.LastWriteTimeUtc.Ticks}"));
        }

        AddRuntimeFile($"runtime{DotNetRoot}/dotnet", layout.Muxer, Executable);
        AddRuntimeFile($"runtime{DotNetRoot}/host/fxr/{Path.GetFileName(Path.GetDirectoryName(layout.HostFxr))}/libhostfxr.so", layout.HostFxr, Executable);
        foreach (var framework in layout.Frameworks)
        {
            var prefix = $"runtime{DotNetRoot}/shared/{framework.Name}/{framework.Version}/";
            foreach (var file in Directory.EnumerateFiles(framework.Directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                AddRuntimeFile(prefix + Path.GetRelativePath(framework.Directory, file).Replace('\\', '/'), file);
            }
        }

        foreach (var library in libraries)
        {
            // Stored under the path the loader asks for; symbolic links are resolved to their target's bytes.
            AddRuntimeFile("runtime" + library, library, Executable);
        }

        var dockerfile = new StringBuilder()
            .AppendLine("FROM scratch")
            .AppendLine("COPY runtime/ /")
            .AppendLine("COPY app/ /")
            .AppendLine("WORKDIR /app")
            .Append("ENV DOTNET_ROOT=").AppendLine(DotNetRoot);
        foreach (var (name, value) in _environment)
        {
            dockerfile.Append("ENV ").Append(name).Append('=').AppendLine(Quote(value));
        }

        foreach (var port in _ports)
        {
            dockerfile.Append("EXPOSE ").AppendLine(port.ToString(CultureInfo.InvariantCulture));
        }

        dockerfile.Append("ENTRYPOINT [\"").Append(DotNetRoot).Append("/dotnet\", \"/app/").Append(Path.GetFileName(_entryAssembly)).AppendLine("\"]");
        var dockerfileBytes = Encoding.UTF8.GetBytes(dockerfile.ToString());
        context.AddContent("Dockerfile", dockerfileBytes);
        app.AddContent("Dockerfile", dockerfileBytes);
        var hash = await Task.Run(() => app.ComputeHash(["dotnet-app-image-v1", .. fingerprints]), cancellationToken).ConfigureAwait(false);
        return (context, hash);
    }

    private static string RuntimeConfigOf(string entryAssembly) =>
        Path.Combine(Path.GetDirectoryName(entryAssembly)!, Path.GetFileNameWithoutExtension(entryAssembly) + ".runtimeconfig.json");

    private static string Sanitize(string name)
    {
        var text = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray()).Trim('.', '_', '-');
        return text.Length == 0 ? "app" : text;
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private DotNetAppImageBuilder With(Action<DotNetAppImageBuilder> change)
    {
        var copy = (DotNetAppImageBuilder)MemberwiseClone();
        change(copy);
        return copy;
    }

    /// <summary>Where the pieces of the image come from on this machine.</summary>
    private sealed record Layout(string AppDirectory, string Muxer, string HostFxr, IReadOnlyList<Framework> Frameworks)
    {
        public static Layout Create(string entryAssembly)
        {
            // This process's runtime: <root>/shared/Microsoft.NETCore.App/<version>/.
            var runtimeDirectory = Path.TrimEndingDirectorySeparator(RuntimeEnvironment.GetRuntimeDirectory());
            var root = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", "..", ".."));
            var muxer = Path.Combine(root, "dotnet");
            var hostFxr = Directory.Exists(Path.Combine(root, "host", "fxr"))
                ? Directory.GetDirectories(Path.Combine(root, "host", "fxr"))
                    .Select(d => (Directory: d, Version: ParseVersion(Path.GetFileName(d))))
                    .Where(d => d.Version is not null && File.Exists(Path.Combine(d.Directory, "libhostfxr.so")))
                    .OrderByDescending(d => d.Version)
                    .Select(d => Path.Combine(d.Directory, "libhostfxr.so"))
                    .FirstOrDefault()
                : null;
            if (!File.Exists(muxer) || hostFxr is null)
            {
                throw new DockerImageBuildException(
                    $"This process's .NET runtime ({runtimeDirectory}) is not part of a .NET installation with a 'dotnet' host and host/fxr/*/libhostfxr.so under {root} (a self-contained or single-file app has none); use DotNetImageBuilder instead.",
                    "runtime", "no .NET installation", []);
            }

            var frameworks = new List<Framework>();
            var pending = new Queue<(string Name, string Version)>(RequestedFrameworks(RuntimeConfigOf(entryAssembly)));
            while (pending.TryDequeue(out var request) && frameworks.Count < 20)
            {
                if (frameworks.Any(f => f.Name == request.Name))
                {
                    continue;
                }

                var framework = Resolve(root, runtimeDirectory, request.Name, request.Version);
                frameworks.Add(framework);
                foreach (var dependency in RequestedFrameworks(Path.Combine(framework.Directory, framework.Name + ".runtimeconfig.json")))
                {
                    pending.Enqueue(dependency);
                }
            }

            if (!frameworks.Any(f => f.Name == "Microsoft.NETCore.App"))
            {
                frameworks.Add(Resolve(root, runtimeDirectory, "Microsoft.NETCore.App", Environment.Version.ToString()));
            }

            return new Layout(Path.GetDirectoryName(entryAssembly)!, muxer, hostFxr, frameworks);
        }

        /// <summary>The framework this process runs for Microsoft.NETCore.App; for others, the latest installed patch of the
        /// requested major.minor (what the host's default roll-forward picks).</summary>
        private static Framework Resolve(string root, string runtimeDirectory, string name, string requested)
        {
            var wanted = ParseVersion(requested) ?? throw new DockerImageBuildException(
                $"The framework reference {name} {requested} has no version this builder understands.", "runtime", "bad framework version", []);
            if (name == "Microsoft.NETCore.App" && ParseVersion(Path.GetFileName(runtimeDirectory)) is { } running &&
                running.Major == wanted.Major && running >= wanted)
            {
                return new Framework(name, Path.GetFileName(runtimeDirectory), runtimeDirectory);
            }

            var shared = Path.Combine(root, "shared", name);
            var installed = Directory.Exists(shared)
                ? Directory.GetDirectories(shared).Select(d => (Directory: d, Version: ParseVersion(Path.GetFileName(d))))
                    .Where(d => d.Version is { } v && v.Major == wanted.Major && v.Minor == wanted.Minor && v >= wanted)
                    .OrderByDescending(d => d.Version)
                    .FirstOrDefault()
                : default;
            return installed.Directory is not null
                ? new Framework(name, Path.GetFileName(installed.Directory), installed.Directory)
                : throw new DockerImageBuildException(
                    $"The application needs the shared framework {name} {requested} (or a later {wanted.Major}.{wanted.Minor} patch), which is not installed under {shared}.",
                    "runtime", $"framework {name} {requested} not installed", []);
        }

        private static IEnumerable<(string Name, string Version)> RequestedFrameworks(string runtimeConfig)
        {
            if (!File.Exists(runtimeConfig))
            {
                yield break;
            }

            using var document = JsonDocument.Parse(File.ReadAllBytes(runtimeConfig));
            if (!document.RootElement.TryGetProperty("runtimeOptions", out var options))
            {
                yield break;
            }

            var references = new List<JsonElement>();
            if (options.TryGetProperty("framework", out var single) && single.ValueKind == JsonValueKind.Object)
            {
                references.Add(single);
            }

            if (options.TryGetProperty("frameworks", out var many) && many.ValueKind == JsonValueKind.Array)
            {
                references.AddRange(many.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object));
            }

            foreach (var reference in references)
            {
                if (reference.TryGetProperty("name", out var name) && name.GetString() is { Length: > 0 } n &&
                    reference.TryGetProperty("version", out var version) && version.GetString() is { Length: > 0 } v)
                {
                    yield return (n, v);
                }
            }
        }

        private static Version? ParseVersion(string text)
        {
            var core = text.Split('-', '+')[0];
            return Version.TryParse(core, out var version) ? version : null;
        }
    }

    private sealed record Framework(string Name, string Version, string Directory);
}
