using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Identity;

public sealed class MeshFileIdentitySourceTests : IDisposable
{
    private const string Catalog = "spiffe://mesh.test/catalog";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-identity-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _ca.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    // rename(2) atomically replaces the ..data symlink, as the kubelet does; File.Move refuses a symlink to a directory.
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(string oldPath, string newPath);

    private static Task WhenChanged(IMeshIdentitySource source)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.GetChangeToken().RegisterChangeCallback(static state => ((TaskCompletionSource)state!).TrySetResult(), changed);
        return changed.Task;
    }

    [Fact]
    public void Loads_the_identity_from_the_three_files()
    {
        var svid = _ca.IssueSvid(Catalog);
        var options = _ca.WriteIdentityFiles(svid, _directory);

        using var source = new MeshFileIdentitySource(options);

        Assert.Equal(SpiffeId.Parse(Catalog), source.Current.Id);
        Assert.Equal(svid.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
        Assert.Equal(["mesh.test"], source.Current.Bundles.TrustDomains);
    }

    [Fact]
    public void Missing_file_fails_at_start_naming_the_path()
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        File.Delete(options.KeyPath!);

        var exception = Assert.Throws<InvalidOperationException>(() => new MeshFileIdentitySource(options));

        Assert.Contains(options.KeyPath!, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Files_that_do_not_form_a_valid_identity_fail_at_start_with_the_reason()
    {
        using var otherCa = DevelopmentCertificateAuthority.Create("mesh.test");
        var options = DevelopmentCertificateAuthority.WriteIdentityFiles(otherCa.IssueSvid(Catalog).Certificate, [], [_ca.RootCertificate], _directory);

        var exception = Assert.Throws<InvalidOperationException>(() => new MeshFileIdentitySource(options));

        Assert.Contains(nameof(X509SvidFailureReason.UntrustedIssuer), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_without_a_certificate_path_are_refused_naming_the_key()
    {
        var exception = Assert.Throws<ArgumentException>(() => new MeshFileIdentitySource(new MeshIdentityOptions { KeyPath = "k", TrustBundlePath = "b" }));

        Assert.Contains("Mesh:Identity:CertificatePath", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replaced_files_rotate_the_identity_and_fire_the_change_token()
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        using var source = new MeshFileIdentitySource(options);
        var changed = WhenChanged(source);
        var next = _ca.IssueSvid(Catalog);

        _ca.WriteIdentityFiles(next, _directory);
        await changed.WaitAsync(s_wait, TestContext.Current.CancellationToken);

        Assert.Equal(next.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Bad_new_files_keep_the_last_good_identity_and_log_why()
    {
        var first = _ca.IssueSvid(Catalog);
        var options = _ca.WriteIdentityFiles(first, _directory);
        var logger = new FakeLogger<MeshFileIdentitySource>();
        using var source = new MeshFileIdentitySource(options, logger);
        using var otherCa = DevelopmentCertificateAuthority.Create("mesh.test");

        DevelopmentCertificateAuthority.WriteIdentityFiles(otherCa.IssueSvid(Catalog).Certificate, [], [_ca.RootCertificate], _directory);
        Assert.False(await source.ReloadAsync(TestContext.Current.CancellationToken));

        Assert.Equal(first.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
        var warning = logger.Collector.GetSnapshot().Last(r => r.Id.Name == "IdentityReloadRejected");
        Assert.Contains(nameof(X509SvidFailureReason.UntrustedIssuer), warning.Message, StringComparison.Ordinal);
        Assert.Contains(first.Certificate.SerialNumber, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Certificate_replaced_before_its_key_is_waited_out_until_the_key_arrives()
    {
        var first = _ca.IssueSvid(Catalog);
        var options = _ca.WriteIdentityFiles(first, _directory);
        // The watcher's settle delay and the poll run on this clock, which stands still: only the explicit ReloadAsync
        // calls read the files, so each step is seen (a background reload could otherwise take the pair first).
        using var source = new MeshFileIdentitySource(options, timeProvider: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var next = _ca.IssueSvid(Catalog);
        var staging = Path.Combine(_directory, "staging");
        var staged = _ca.WriteIdentityFiles(next, staging);

        File.Move(staged.CertificatePath!, options.CertificatePath!, overwrite: true);
        Assert.False(await source.ReloadAsync(TestContext.Current.CancellationToken));
        Assert.Equal(first.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);

        File.Move(staged.KeyPath!, options.KeyPath!, overwrite: true);
        Assert.True(await source.ReloadAsync(TestContext.Current.CancellationToken));
        Assert.Equal(next.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Rotation_to_the_same_spiffe_id_is_logged_as_information()
    {
        var logger = new FakeLogger<MeshFileIdentitySource>();
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        using var source = new MeshFileIdentitySource(options, logger);

        _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        Assert.True(await source.ReloadAsync(TestContext.Current.CancellationToken));

        var rotated = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "IdentityRotated");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, rotated.Level);
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Id.Name == "IdentityIdChanged");
    }

    [Fact]
    public async Task Rotation_that_changes_the_spiffe_id_is_a_warning_naming_both_ids()
    {
        // Rotated files should renew the same identity; another ID means peers authorizing the old one refuse this workload.
        var logger = new FakeLogger<MeshFileIdentitySource>();
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        using var source = new MeshFileIdentitySource(options, logger);
        var next = _ca.IssueSvid("spiffe://mesh.test/payments");

        _ca.WriteIdentityFiles(next, _directory);
        Assert.True(await source.ReloadAsync(TestContext.Current.CancellationToken));

        Assert.Equal(next.Id, source.Current.Id);
        var changed = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal("IdentityIdChanged", changed.Id.Name);
        Assert.Contains("spiffe://mesh.test/payments", changed.Message, StringComparison.Ordinal);
        Assert.Contains(Catalog, changed.Message, StringComparison.Ordinal);
        Assert.Equal(Catalog, changed.GetStructuredStateValue("PreviousSpiffeId"));
    }

    [Fact]
    public void Any_code_in_the_process_can_use_the_workloads_private_key()
    {
        // docs/security.md: the mesh cannot protect the workload's identity from code running in its own process.
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        using var source = new MeshFileIdentitySource(options);

        using var key = source.Current.Svid.Certificate.GetECDsaPrivateKey();
        var data = "signed by whoever holds the source"u8.ToArray();
        var signature = key!.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256);

        using var publicKey = source.Current.Svid.Certificate.GetECDsaPublicKey();
        Assert.True(publicKey!.VerifyData(data, signature, System.Security.Cryptography.HashAlgorithmName.SHA256));
    }

    [Fact]
    public async Task Unchanged_files_are_not_reloaded()
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        using var source = new MeshFileIdentitySource(options);

        Assert.False(await source.ReloadAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Kubernetes_style_data_symlink_swap_is_picked_up()
    {
        // Secret volumes hold svid.pem -> ..data/svid.pem, and rotate by renaming a new ..data symlink over the old one.
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Kubernetes volumes and the libc rename used here are Linux-only.");
        var first = _ca.IssueSvid(Catalog);
        _ca.WriteIdentityFiles(first, Path.Combine(_directory, "..v1"));
        Directory.CreateSymbolicLink(Path.Combine(_directory, "..data"), "..v1");
        foreach (var name in new[] { DevelopmentCertificateAuthority.CertificateFileName, DevelopmentCertificateAuthority.KeyFileName, DevelopmentCertificateAuthority.BundleFileName })
        {
            File.CreateSymbolicLink(Path.Combine(_directory, name), Path.Combine("..data", name));
        }

        using var source = new MeshFileIdentitySource(new MeshIdentityOptions
        {
            CertificatePath = Path.Combine(_directory, DevelopmentCertificateAuthority.CertificateFileName),
            KeyPath = Path.Combine(_directory, DevelopmentCertificateAuthority.KeyFileName),
            TrustBundlePath = Path.Combine(_directory, DevelopmentCertificateAuthority.BundleFileName),
        });
        var changed = WhenChanged(source);
        var next = _ca.IssueSvid(Catalog);
        _ca.WriteIdentityFiles(next, Path.Combine(_directory, "..v2"));
        Directory.CreateSymbolicLink(Path.Combine(_directory, "..data_tmp"), "..v2");

        Assert.Equal(0, Rename(Path.Combine(_directory, "..data_tmp"), Path.Combine(_directory, "..data")));
        await changed.WaitAsync(s_wait, TestContext.Current.CancellationToken);

        Assert.Equal(next.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Polling_finds_changes_without_file_system_events()
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        options.PollInterval = TimeSpan.FromMilliseconds(100);
        using var source = new MeshFileIdentitySource(options, logger: null, timeProvider: null, watchFileSystem: false);
        var changed = WhenChanged(source);
        var next = _ca.IssueSvid(Catalog);

        _ca.WriteIdentityFiles(next, _directory);
        await changed.WaitAsync(s_wait, TestContext.Current.CancellationToken);

        Assert.Equal(next.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Disposed_source_keeps_its_identity_and_stops_reloading()
    {
        var first = _ca.IssueSvid(Catalog);
        var options = _ca.WriteIdentityFiles(first, _directory);
        var source = new MeshFileIdentitySource(options);

        source.Dispose();
        _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        await Task.Delay(300, TestContext.Current.CancellationToken);

        Assert.Equal(first.Certificate.Thumbprint, source.Current.Svid.Certificate.Thumbprint);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => source.ReloadAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public void AddMeshIdentity_reads_the_configuration_section()
    {
        var options = _ca.WriteIdentityFiles(_ca.IssueSvid(Catalog), _directory);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = options.CertificatePath,
            ["Mesh:Identity:KeyPath"] = options.KeyPath,
            ["Mesh:Identity:TrustBundlePath"] = options.TrustBundlePath,
            ["Mesh:Identity:PollInterval"] = "00:00:02",
        }).Build();
        using var services = new ServiceCollection().AddMeshIdentity(configuration.GetSection("Mesh:Identity")).BuildServiceProvider();

        var source = services.GetRequiredService<IMeshIdentitySource>();

        Assert.Equal(SpiffeId.Parse(Catalog), source.Current.Id);
        Assert.Equal(TimeSpan.FromSeconds(2), services.GetRequiredService<IOptions<MeshIdentityOptions>>().Value.PollInterval);
    }

    [Fact]
    public void AddMeshIdentity_validation_names_the_missing_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Identity:CertificatePath"] = "certs/svid.pem",
        }).Build();
        using var services = new ServiceCollection().AddMeshIdentity(configuration.GetSection("Mesh:Identity")).BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MeshIdentityOptions>>().Value);

        Assert.Contains("Mesh:Identity:KeyPath", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Poll_interval_that_is_not_a_time_span_is_refused_naming_the_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PollInterval"] = "soon",
        }).Build();

        var exception = Assert.Throws<InvalidOperationException>(() => MeshIdentityOptions.FromConfiguration(configuration));

        Assert.Contains("Mesh:Identity:PollInterval", exception.Message, StringComparison.Ordinal);
    }
}
