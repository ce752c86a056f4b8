using System.Diagnostics;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Mesh.Tests.TestSupport;

namespace Mesh.Tests.Identity;

public sealed class CertificateRotationTests : IDisposable
{
    private const string Catalog = "spiffe://mesh.test/catalog";
    private const string Orders = "spiffe://mesh.test/orders";

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

    [Fact]
    public async Task Files_rotated_under_steady_traffic_reach_new_connections_without_failing_a_request()
    {
        var ct = TestContext.Current.CancellationToken;
        var serverDirectory = Path.Combine(_directory, "server");
        var clientDirectory = Path.Combine(_directory, "client");
        var oldServer = _ca.IssueSvid(Catalog);
        var oldClient = _ca.IssueSvid(Orders);
        using var serverSource = new MeshFileIdentitySource(_ca.WriteIdentityFiles(oldServer, serverDirectory));
        using var clientSource = new MeshFileIdentitySource(_ca.WriteIdentityFiles(oldClient, clientDirectory));
        await using var server = await MeshTlsTestHost.StartMeshAsync(serverSource, "spiffe://mesh.test/*");
        using var client = MeshTlsTestHost.MeshClient(clientSource, Catalog, pooledConnectionLifetime: TimeSpan.FromMilliseconds(100));
        var newServer = _ca.IssueSvid(Catalog);
        var newClient = _ca.IssueSvid(Orders);

        var seen = new List<(TimeSpan At, MeshTlsTestHost.WhoAmI Answer)>();
        var failures = new List<Exception>();
        var clock = Stopwatch.StartNew();
        // Bounded: four concurrent request loops for three seconds; the files are rotated after one second.
        async Task DriveAsync()
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(3))
            {
                try
                {
                    var answer = await server.GetWhoAmIAsync(client);
                    lock (seen)
                    {
                        seen.Add((clock.Elapsed, answer));
                    }
                }
                catch (HttpRequestException e)
                {
                    lock (failures)
                    {
                        failures.Add(e);
                    }
                }
            }
        }

        var drivers = Enumerable.Range(0, 4).Select(_ => Task.Run(DriveAsync, ct)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        _ca.WriteIdentityFiles(newServer, serverDirectory);
        _ca.WriteIdentityFiles(newClient, clientDirectory);
        var rotatedAt = clock.Elapsed;
        await Task.WhenAll(drivers);

        Assert.Empty(failures);
        Assert.Contains(seen, s => s.Answer.ClientSerial == oldClient.Certificate.SerialNumber && s.Answer.ServerSerial == oldServer.Certificate.SerialNumber);
        // A second after the rotation (connections live 100 ms), every new connection carries both new certificates.
        var late = seen.Where(s => s.At > rotatedAt + TimeSpan.FromSeconds(1)).Select(s => s.Answer).ToList();
        Assert.NotEmpty(late);
        Assert.All(late, a => Assert.Equal(newClient.Certificate.SerialNumber, a.ClientSerial));
        Assert.All(late, a => Assert.Equal(newServer.Certificate.SerialNumber, a.ServerSerial));
        Assert.All(seen, s => Assert.Equal(Orders, s.Answer.PeerId));
        TestContext.Current.SendDiagnosticMessage($"{seen.Count} requests, {late.Count} after the rotation settled, 0 failed");
    }

    [Fact]
    public async Task In_memory_rotation_reaches_new_connections_at_once()
    {
        var clientSource = _ca.CreateIdentitySource(Orders);
        await using var server = await MeshTlsTestHost.StartMeshAsync(_ca.CreateIdentitySource(Catalog), Orders);
        using var client = MeshTlsTestHost.MeshClient(clientSource, Catalog, pooledConnectionLifetime: TimeSpan.FromMilliseconds(1));
        var next = _ca.IssueSvid(Orders);

        await server.GetWhoAmIAsync(client);
        clientSource.Update(next, _ca.Bundle);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        var after = await server.GetWhoAmIAsync(client);

        Assert.Equal(next.Certificate.SerialNumber, after.ClientSerial);
    }
}
