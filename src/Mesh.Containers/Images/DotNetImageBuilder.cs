using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Xml.Linq;
using Mesh.Containers.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers;

/// <summary>
/// Turns a .NET project into a <c>FROM scratch</c> image without any registry: the project is published self-contained
/// (<c>dotnet publish -r linux-x64 --self-contained -p:InvariantGlobalization=true</c>), the shared libraries <c>ldd</c> lists for its
/// native files (plus <c>libssl.so.3</c> and <c>libcrypto.so.3</c>, which .NET loads at run time) are copied beside it, and the
/// engine builds the image. The tag is a hash of the project's sources (and of its project references and the build files
/// above it), so when nothing changed neither the publish nor the build runs again.
/// The image sets <c>ASPNETCORE_HTTP_PORTS=8080</c> (as Microsoft's images do) and exposes 8080 unless told otherwise.
/// Its <see cref="DockerImage.RequiresInit"/> is set: run it with an init as PID 1 (<c>docker run --init</c>;
/// <see cref="DockerContainerBuilder"/> does it for a <see cref="DockerImage"/>), so that signals and an unhandled
/// exception (printed, then SIGABRT: exit code 134) behave as on a host.
/// Immutable: every <c>With…</c> returns a new builder.
/// </summary>
public sealed class DotNetImageBuilder
{
    private static readonly string[] s_skippedDirectories = ["bin", "obj", ".git", ".vs", ".idea", "node_modules", "TestResults"];
    private static readonly string[] s_buildFiles = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "nuget.config", "NuGet.Config"];

    private readonly string _projectFile;
    private string? _repository;
    private string _configuration = "Release";
    private string _runtimeIdentifier = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
    private ImmutableSortedDictionary<string, string> _properties = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);
    private ImmutableSortedDictionary<string, string> _environment = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal)
        .Add("ASPNETCORE_HTTP_PORTS", "8080")
        .Add("DOTNET_EnableDiagnostics", "0");
    private ImmutableSortedSet<int> _ports = [8080];
    private IProgress<DockerBuildProgress>? _progress;
    private bool _useContentCache = true;
    private TimeSpan _timeout = TimeSpan.FromMinutes(10);

    /// <summary>Starts an image of the project at <paramref name="projectPath"/>.</summary>
    /// <param name="projectPath">A project file, or a directory holding exactly one.</param>
    /// <exception cref="FileNotFoundException">No (single) project file there.</exception>
    public DotNetImageBuilder(string projectPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(projectPath);
        var full = Path.GetFullPath(projectPath);
        if (Directory.Exists(full))
        {
            var projects = Directory.GetFiles(full, "*.*proj");
            _projectFile = projects.Length == 1
                ? projects[0]
                : throw new FileNotFoundException($"Expected exactly one project file in '{full}', found {projects.Length}; pass the project file itself.");
        }
        else
        {
            _projectFile = File.Exists(full) ? full : throw new FileNotFoundException($"The project '{full}' does not exist.", full);
        }
    }

    /// <summary>Sets the image repository (default: <c>mesh/</c> + the project name in lowercase); the tag is the source hash.</summary>
    /// <param name="repository">A lowercase repository name.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithRepository(string repository)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repository);
        return With(b => b._repository = repository);
    }

    /// <summary>Sets the build configuration (default <c>Release</c>).</summary>
    /// <param name="configuration">The configuration.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithConfiguration(string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        return With(b => b._configuration = configuration);
    }

    /// <summary>Sets the runtime identifier (default <c>linux-x64</c>, or <c>linux-arm64</c> on Arm).</summary>
    /// <param name="runtimeIdentifier">The runtime identifier.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithRuntimeIdentifier(string runtimeIdentifier)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runtimeIdentifier);
        return With(b => b._runtimeIdentifier = runtimeIdentifier);
    }

    /// <summary>Passes an MSBuild property to <c>dotnet publish</c> (<c>-p:Name=Value</c>).</summary>
    /// <param name="name">The property name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithPublishProperty(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return With(b => b._properties = b._properties.SetItem(name, value));
    }

    /// <summary>Bakes an environment variable into the image (<c>ENV</c>).</summary>
    /// <param name="name">The variable name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithEnvironment(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return With(b => b._environment = b._environment.SetItem(name, value));
    }

    /// <summary>Declares the ports the image exposes (<c>EXPOSE</c>), replacing the default 8080.</summary>
    /// <param name="ports">The TCP ports.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithExposedPorts(params int[] ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        return With(b => b._ports = [.. ports]);
    }

    /// <summary>Streams <c>dotnet publish</c> and engine build output to <paramref name="progress"/>.</summary>
    /// <param name="progress">The receiver; called in order.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithProgress(IProgress<DockerBuildProgress> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return With(b => b._progress = progress);
    }

    /// <summary>Whether an existing image with the same source hash is reused without publishing or building (default <see langword="true"/>).</summary>
    /// <param name="enabled">Whether to reuse.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithContentCache(bool enabled) => With(b => b._useContentCache = enabled);

    /// <summary>Bounds publish plus build (default 10 minutes).</summary>
    /// <param name="timeout">The limit; must be positive.</param>
    /// <returns>A new builder.</returns>
    public DotNetImageBuilder WithTimeout(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        return With(b => b._timeout = timeout);
    }

    /// <summary>Publishes the project and builds its image, or finds the image when the sources are unchanged.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="cancellationToken">Cancels publish and build (the publish process is killed).</param>
    /// <returns>The image.</returns>
    /// <exception cref="DockerImageBuildException">Publishing or building failed; carries the tool's or engine's message and the last output lines.</exception>
    public async Task<DockerImage> BuildAsync(DockerEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_timeout);
        var logger = engine.LoggerFactory.CreateLogger<DotNetImageBuilder>();
        var assemblyName = AssemblyNameOf(_projectFile);
        var hash = await Task.Run(() => SourceHash(), cts.Token).ConfigureAwait(false);
        var reference = $"{_repository ?? "mesh/" + Sanitize(assemblyName)}:{ImageBuildRunner.TagOf(hash)}";
        try
        {
            using var gate = await ImageBuildRunner.LockAsync(reference, cts.Token).ConfigureAwait(false);
            if (_useContentCache && await ImageBuildRunner.GetCachedAsync(engine, reference, hash, cts.Token).ConfigureAwait(false) is { } cached)
            {
                ImageLog.CacheHit(logger, reference);
                _progress?.Report(new DockerBuildProgress($"Using cached image {reference} (sources unchanged)", null));
                return cached with { RequiresInit = true };
            }

            var work = Directory.CreateTempSubdirectory("mesh-dotnet-image-");
            try
            {
                var output = Path.Combine(work.FullName, "app");
                await PublishAsync(output, logger, cts.Token).ConfigureAwait(false);
                var context = await CreateContextAsync(output, assemblyName, cts.Token).ConfigureAwait(false);
                var built = await ImageBuildRunner.BuildAsync(engine, context, reference, hash, "Dockerfile", ImmutableDictionary<string, string>.Empty, null, _progress, logger, cts.Token).ConfigureAwait(false);
                return built with { RequiresInit = true };
            }
            finally
            {
                try
                {
                    work.Delete(recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Building the image of '{_projectFile}' took longer than {_timeout.TotalSeconds:0} s.", e);
        }
    }

    private async Task PublishAsync(string output, ILogger logger, CancellationToken cancellationToken)
    {
        ImageLog.Publishing(logger, _projectFile, _runtimeIdentifier);
        string[] arguments =
        [
            "publish", _projectFile, "-c", _configuration, "-r", _runtimeIdentifier, "--self-contained", "true",
            "-p:InvariantGlobalization=true", "-p:UseAppHost=true", "-p:DebugType=none", "-p:GenerateDocumentationFile=false",
            "-o", output, "--nologo", "--disable-build-servers", "-v", "minimal",
            .. _properties.Select(p => $"-p:{p.Key}={p.Value}"),
        ];
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var result = await ProcessRunner.RunAsync(dotnet, arguments, Path.GetDirectoryName(_projectFile), line =>
        {
            ImageLog.PublishOutput(logger, _projectFile, line);
            _progress?.Report(new DockerBuildProgress(line, "dotnet publish"));
        }, environment =>
        {
            // A publish started from inside a build or test host must not inherit that host's MSBuild settings.
            foreach (var key in environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            {
                environment.Remove(key);
            }
        }, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var tail = result.Output.TakeLast(30).ToArray();
            var error = tail.LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)) ?? $"dotnet publish exited with code {result.ExitCode}";
            throw new DockerImageBuildException(
                $"Publishing '{_projectFile}' for {_runtimeIdentifier} failed: {error}{Environment.NewLine}{string.Join(Environment.NewLine, tail.Select(l => "  | " + l))}",
                "dotnet publish", error.Trim(), tail);
        }
    }

    private async Task<BuildContext> CreateContextAsync(string output, string assemblyName, CancellationToken cancellationToken)
    {
        var apphost = Path.Combine(output, assemblyName);
        if (!File.Exists(apphost))
        {
            throw new DockerImageBuildException($"The publish output has no executable '{assemblyName}' (is the project an executable?).", "dotnet publish", "no apphost in the publish output", []);
        }

        var nativeFiles = Directory.EnumerateFiles(output, "*.so", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith("libcoreclrtraceptprovider", StringComparison.Ordinal))
            .Prepend(apphost);
        var libraries = await NativeLibraryCollector.CollectAsync(nativeFiles, cancellationToken).ConfigureAwait(false);

        var context = new BuildContext();
        context.AddDirectory("rootfs/tmp", UnixFileMode.StickyBit | (UnixFileMode)0x1FF);
        context.AddDirectoryTree(output, DockerIgnore.Empty, "rootfs/app/");
        foreach (var library in libraries)
        {
            // Stored under the path the loader asks for; symbolic links are resolved to their target's bytes.
            context.AddFile("rootfs" + library, library, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        var dockerfile = new StringBuilder()
            .AppendLine("FROM scratch")
            .AppendLine("COPY rootfs/ /")
            .AppendLine("WORKDIR /app");
        foreach (var (name, value) in _environment)
        {
            dockerfile.Append("ENV ").Append(name).Append('=').AppendLine(Quote(value));
        }

        foreach (var port in _ports)
        {
            dockerfile.Append("EXPOSE ").AppendLine(port.ToString(CultureInfo.InvariantCulture));
        }

        dockerfile.Append("ENTRYPOINT [\"/app/").Append(assemblyName).AppendLine("\"]");
        context.AddContent("Dockerfile", Encoding.UTF8.GetBytes(dockerfile.ToString()));
        return context;
    }

    internal string SourceHash()
    {
        // Paths are hashed relative to the project, so a clone elsewhere has the same hash.
        var root = Path.GetDirectoryName(_projectFile)!;
        string Relative(string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
        var context = new BuildContext();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>([_projectFile]);
        while (pending.Count > 0 && seen.Count < 200)
        {
            var project = pending.Dequeue();
            var directory = Path.GetDirectoryName(project)!;
            if (!seen.Add(directory))
            {
                continue;
            }

            context.AddDirectoryTree(directory, DockerIgnore.Empty, Relative(directory) + "/", skipDirectory: relative => s_skippedDirectories.Contains(Path.GetFileName(relative)));
            foreach (var reference in ProjectReferencesOf(project))
            {
                pending.Enqueue(reference);
            }

            for (var parent = Directory.GetParent(directory); parent is not null; parent = parent.Parent)
            {
                foreach (var name in s_buildFiles)
                {
                    var file = Path.Combine(parent.FullName, name);
                    if (File.Exists(file) && seen.Add(file))
                    {
                        context.AddFile(Relative(file), file);
                    }
                }
            }
        }

        return context.ComputeHash(
        [
            "dotnet-image-v1", Environment.Version.ToString(), _configuration, _runtimeIdentifier,
            .. _properties.Select(p => $"p:{p.Key}={p.Value}"),
            .. _environment.Select(e => $"env:{e.Key}={e.Value}"),
            .. _ports.Select(p => "port:" + p.ToString(CultureInfo.InvariantCulture)),
        ]);
    }

    private static IEnumerable<string> ProjectReferencesOf(string project)
    {
        XDocument document;
        try
        {
            document = XDocument.Load(project);
        }
        catch (System.Xml.XmlException)
        {
            yield break;
        }

        foreach (var element in document.Descendants().Where(e => e.Name.LocalName == "ProjectReference"))
        {
            if (element.Attribute("Include")?.Value is { Length: > 0 } include)
            {
                var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(project)!, include.Replace('\\', '/')));
                if (File.Exists(path))
                {
                    yield return path;
                }
            }
        }
    }

    private static string AssemblyNameOf(string project)
    {
        try
        {
            var name = XDocument.Load(project).Descendants().FirstOrDefault(e => e.Name.LocalName == "AssemblyName")?.Value;
            if (!string.IsNullOrWhiteSpace(name) && !name.Contains('$', StringComparison.Ordinal))
            {
                return name.Trim();
            }
        }
        catch (System.Xml.XmlException)
        {
        }

        return Path.GetFileNameWithoutExtension(project);
    }

    private static string Sanitize(string name)
    {
        var text = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray()).Trim('.', '_', '-');
        return text.Length == 0 ? "app" : text;
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private DotNetImageBuilder With(Action<DotNetImageBuilder> change)
    {
        var copy = (DotNetImageBuilder)MemberwiseClone();
        change(copy);
        return copy;
    }
}
