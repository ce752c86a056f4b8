using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.Identity;

/// <summary>A private key that its group or others can access is not loaded silently (issue #23, item 4): a warning by
/// default, a refusal with <c>Mesh:Identity:KeyFilePermissions: Enforce</c> — as OpenSSH treats its keys. Unix only.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyFilePermissionTests : IDisposable
{
    private const string Catalog = "spiffe://mesh.test/catalog";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode WorldReadable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-keyfile-").FullName;

    public KeyFilePermissionTests()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes do not apply on Windows; the check is skipped there.");
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private MeshIdentityOptions WriteFiles(UnixFileMode keyMode, string spiffeId = Catalog)
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(spiffeId), _directory);
        File.SetUnixFileMode(options.KeyPath!, keyMode);
        return options;
    }

    [Fact]
    public void A_key_that_group_and_others_can_read_is_loaded_with_a_warning_naming_the_file_and_its_mode()
    {
        var options = WriteFiles(WorldReadable);
        var logger = new FakeLogger<MeshFileIdentitySource>();

        using var source = new MeshFileIdentitySource(options, logger);

        Assert.Equal(SpiffeId.Parse(Catalog), source.Current.Id);
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(options.KeyPath!, warning.Message, StringComparison.Ordinal);
        Assert.Contains("0644", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Identity:KeyFilePermissions", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_only_its_group_can_read_is_warned_about_too()
    {
        var options = WriteFiles(OwnerOnly | UnixFileMode.GroupRead);
        var logger = new FakeLogger<MeshFileIdentitySource>();

        using var source = new MeshFileIdentitySource(options, logger);

        Assert.Contains("0640", Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_readable_by_its_owner_only_loads_without_a_warning()
    {
        var options = WriteFiles(UnixFileMode.UserRead);
        var logger = new FakeLogger<MeshFileIdentitySource>();

        using var source = new MeshFileIdentitySource(options, logger);

        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public void The_mode_checked_is_the_one_of_the_file_a_symbolic_link_points_to()
    {
        // Kubernetes secret volumes: svid.key -> ..data/svid.key; the link itself is always 0777.
        var options = WriteFiles(WorldReadable);
        var link = Path.Combine(_directory, "link.key");
        File.CreateSymbolicLink(link, options.KeyPath!);
        options.KeyPath = link;
        var logger = new FakeLogger<MeshFileIdentitySource>();

        using (new MeshFileIdentitySource(options, logger))
        {
            Assert.Contains("0644", Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected").Message, StringComparison.Ordinal);
        }

        File.SetUnixFileMode(Path.Combine(_directory, DevelopmentCertificateAuthority.KeyFileName), OwnerOnly);
        logger.Collector.Clear();
        using (new MeshFileIdentitySource(options, logger))
        {
            Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected");
        }
    }

    [Fact]
    public async Task A_rotation_to_a_key_others_can_read_is_loaded_with_a_warning()
    {
        var options = WriteFiles(OwnerOnly);
        var logger = new FakeLogger<MeshFileIdentitySource>();
        using var source = new MeshFileIdentitySource(options, logger);
        var next = _ca.IssueSvid(Catalog);

        _ca.WriteIdentityFiles(next, _directory);
        File.SetUnixFileMode(options.KeyPath!, WorldReadable);
        Assert.True(await source.ReloadAsync(Token));

        Assert.Equal(next.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
        Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected");
    }

    [Fact]
    public void With_Enforce_a_key_others_can_read_fails_start_naming_the_key_and_the_mode()
    {
        var options = WriteFiles(WorldReadable);
        options.KeyFilePermissions = KeyFilePermissionCheck.Enforce;

        var exception = Assert.Throws<InvalidOperationException>(() => new MeshFileIdentitySource(options));

        Assert.StartsWith("Mesh:Identity:KeyPath:", exception.Message, StringComparison.Ordinal);
        Assert.Contains(options.KeyPath!, exception.Message, StringComparison.Ordinal);
        Assert.Contains("0644", exception.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_Enforce_a_key_readable_by_its_owner_only_loads()
    {
        var options = WriteFiles(OwnerOnly);
        options.KeyFilePermissions = KeyFilePermissionCheck.Enforce;

        using var source = new MeshFileIdentitySource(options);

        Assert.Equal(SpiffeId.Parse(Catalog), source.Current.Id);
    }

    [Fact]
    public async Task With_Enforce_a_rotation_to_a_key_others_can_read_is_rejected_and_the_last_good_identity_kept()
    {
        var options = WriteFiles(OwnerOnly);
        options.KeyFilePermissions = KeyFilePermissionCheck.Enforce;
        var logger = new FakeLogger<MeshFileIdentitySource>();
        using var source = new MeshFileIdentitySource(options, logger);
        var first = source.Current.Svid.Certificate.Thumbprint;

        _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        File.SetUnixFileMode(options.KeyPath!, WorldReadable);
        Assert.False(await source.ReloadAsync(Token));

        Assert.Equal(first, source.Current.Svid.Certificate.Thumbprint);
        var rejected = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "IdentityReloadRejected");
        Assert.Contains("0644", rejected.Message, StringComparison.Ordinal);

        File.SetUnixFileMode(options.KeyPath!, OwnerOnly);
        Assert.True(await source.ReloadAsync(Token));
    }

    [Fact]
    public void With_Ignore_a_key_others_can_read_loads_without_a_warning()
    {
        var options = WriteFiles(WorldReadable);
        options.KeyFilePermissions = KeyFilePermissionCheck.Ignore;
        var logger = new FakeLogger<MeshFileIdentitySource>();

        using var source = new MeshFileIdentitySource(options, logger);

        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task The_mesh_client_configured_the_way_the_docs_say_warns_about_a_key_others_can_read()
    {
        // The key is loaded by the mesh transport from Mesh:Identity (no AddMeshIdentity call): the same check applies.
        var options = WriteFiles(WorldReadable);
        var logs = new FakeLogCollector();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = options.CertificatePath,
            ["Mesh:Identity:KeyPath"] = options.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = options.TrustBundlePath,
            ["Mesh:Services:catalog:Endpoints:0"] = "https://127.0.0.1:1",
        });
        builder.Logging.AddProvider(new FakeLoggerProvider(logs));
        builder.Services.AddMeshClient();
        using var host = builder.Build();

        await host.StartAsync(Token);
        await host.StopAsync(Token);

        var warning = Assert.Single(logs.GetSnapshot(), r => r.Id.Name == "KeyFileUnprotected");
        Assert.Contains(options.KeyPath!, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_Enforce_from_configuration_the_host_fails_start_naming_the_key()
    {
        var options = WriteFiles(WorldReadable);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = options.CertificatePath,
            ["Mesh:Identity:KeyPath"] = options.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = options.TrustBundlePath,
            ["Mesh:Identity:KeyFilePermissions"] = "Enforce",
        }).Build();
        using var services = new ServiceCollection().AddMeshIdentity(configuration.GetSection("Mesh:Identity")).BuildServiceProvider();

        Assert.Equal(KeyFilePermissionCheck.Enforce, services.GetRequiredService<IOptions<MeshIdentityOptions>>().Value.KeyFilePermissions);
        var exception = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IMeshIdentitySource>());
        Assert.StartsWith("Mesh:Identity:KeyPath:", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_that_is_not_a_check_is_refused_naming_the_key_and_the_allowed_values()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KeyFilePermissions"] = "Strict",
        }).Build();

        var exception = Assert.Throws<InvalidOperationException>(() => MeshIdentityOptions.FromConfiguration(configuration));

        Assert.Contains("Mesh:Identity:KeyFilePermissions", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Warn, Enforce, Ignore", exception.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
