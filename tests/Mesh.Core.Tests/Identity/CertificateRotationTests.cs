using Mesh.Identity;
using Mesh.Testing;
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

        // Bounded: four workers for three seconds; the files are rotated after one second.
        await using var traffic = TrafficDriver.Start(client, server.WhoAmITraffic(concurrency: 4, duration: TimeSpan.FromSeconds(3)), cancellationToken: ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        _ca.WriteIdentityFiles(newServer, serverDirectory);
        _ca.WriteIdentityFiles(newClient, clientDirectory);
        // A second after the rotation (connections live 100 ms), every new connection carries both new certificates:
        // the answers from then on are those of the recorder's next window.
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        traffic.Recorder.TakeWindow();
        var report = await traffic.Completion;
        var late = traffic.Recorder.TakeWindow().Replicas.Where(r => r.Requests > 0).Select(r => MeshTlsTestHost.WhoAmI.Parse(r.Replica)).ToList();
        var seen = report.Replicas.Select(r => MeshTlsTestHost.WhoAmI.Parse(r.Replica)).ToList();

        report.AssertNoFailures();
        Assert.Contains(seen, s => s.ClientSerial == oldClient.Certificate.SerialNumber && s.ServerSerial == oldServer.Certificate.SerialNumber);
        Assert.NotEmpty(late);
        Assert.All(late, a => Assert.Equal(newClient.Certificate.SerialNumber, a.ClientSerial));
        Assert.All(late, a => Assert.Equal(newServer.Certificate.SerialNumber, a.ServerSerial));
        Assert.All(seen, s => Assert.Equal(Orders, s.PeerId));
        TestContext.Current.SendDiagnosticMessage($"{report.Succeeded} requests, 0 failed; answers after the rotation settled: {string.Join(", ", late)}");
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
