using Mesh.Tests.Shared;

[assembly: AssemblyFixture(typeof(Mesh.Containers.Tests.TestSupport.DockerFixture))]

namespace Mesh.Containers.Tests.TestSupport;

/// <summary>
/// One engine connection, one session and the images the tests share, for the whole test assembly:
/// the busybox httpd image is built once (and reused across runs through its content hash), the .NET service image
/// is built on first use (publish is the slow part; unchanged sources are not published again).
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    private const string HowToGet = "run ./test.sh as root, which installs docker.io and busybox-static and starts dockerd";
    private Lazy<Task<DockerImage>>? _webServiceImage;
    private string? _unavailable;
    private DockerEngine? _engine;
    private DockerSession? _session;
    private DockerImage? _httpdImage;

    public static string ProjectDirectory { get; } = FindProjectDirectory();

    public static string AssetsDirectory => Path.Combine(ProjectDirectory, "Assets");

    public static bool BusyboxAvailable => File.Exists("/bin/busybox");

    public DockerEngine Engine => Require(_engine);

    public DockerSession Session => Require(_session);

    /// <summary>The classic example's image: a static page served by busybox httpd on port 80, FROM scratch.</summary>
    public DockerImage HttpdImage => Require(_httpdImage);

    public async ValueTask InitializeAsync()
    {
        if (!BusyboxAvailable)
        {
            _unavailable = "/bin/busybox (Debian package busybox-static) is missing";
            return;
        }

        try
        {
            _engine = await DockerEngine.ConnectAsync(new DockerEngineOptions(), TestContext.Current.CancellationToken);
        }
        catch (DockerEngineUnavailableException e)
        {
            _unavailable = e.Message;
            return;
        }

        _session = await DockerSession.StartAsync(_engine, cancellationToken: TestContext.Current.CancellationToken);
        _httpdImage = await new DockerImageBuilder(PrepareStaticSite())
            .WithRepository("mesh-tests/httpd")
            .BuildAsync(_engine, TestContext.Current.CancellationToken);
        _webServiceImage = new Lazy<Task<DockerImage>>(() => new DotNetImageBuilder(Path.Combine(AssetsDirectory, "WebService", "WebService.csproj"))
            .WithRepository("mesh-tests/webservice")
            .BuildAsync(_engine));
    }

    /// <summary>Skips the test outside CI, fails it with CI=true, when the engine or busybox is missing.</summary>
    public void RequireEngine() =>
        Requires.Component(_unavailable is null, "Docker engine and busybox", $"{_unavailable}; {HowToGet}");

    /// <summary>The .NET web service image (Assets/WebService), built once per source change.</summary>
    public Task<DockerImage> GetWebServiceImageAsync()
    {
        RequireEngine();
        return _webServiceImage!.Value;
    }

    /// <summary>Removes an image a test built with unique content, so repeated runs do not pile images up.</summary>
    public async Task RemoveImageAsync(DockerImage image)
    {
        try
        {
            await Engine.RemoveImageAsync(image.Reference, force: true, CancellationToken.None);
        }
        catch (DockerEngineException)
        {
            // Still in use by a container being removed, or already gone: not worth failing a test over.
        }
    }

    /// <summary>Copies the static site and busybox into a fresh build context directory.</summary>
    public static string PrepareStaticSite(string? page = null)
    {
        var context = Directory.CreateTempSubdirectory("mesh-tests-site-").FullName;
        File.Copy(Path.Combine(AssetsDirectory, "StaticSite", "Dockerfile"), Path.Combine(context, "Dockerfile"));
        Directory.CreateDirectory(Path.Combine(context, "www"));
        var index = Path.Combine(context, "www", "index.html");
        if (page is null)
        {
            File.Copy(Path.Combine(AssetsDirectory, "StaticSite", "www", "index.html"), index);
        }
        else
        {
            File.WriteAllText(index, page);
        }

        File.Copy("/bin/busybox", Path.Combine(context, "busybox"));
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        if (_session is not null)
        {
            await _session.DisposeAsync();
        }

        _engine?.Dispose();
        TestPki.DeleteDirectories();
    }

    private T Require<T>(T? value)
        where T : class
    {
        RequireEngine();
        return value!;
    }

    private static string FindProjectDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.Containers.Tests.csproj")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Could not find the Mesh.Containers.Tests project directory above " + AppContext.BaseDirectory);
    }
}
