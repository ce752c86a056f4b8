using System.Globalization;
using Mesh.Discovery.Tests.TestSupport;
using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.Hosting;

namespace Mesh.Discovery.Tests.Dns;

/// <summary>Cold start with DNS SRV discovery, as an app meets it: start the host and call at once.</summary>
[Collection(TimingSensitive.Name)]
public sealed class DnsColdStartTests(DnsmasqServer dns) : IClassFixture<DnsmasqServer>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_first_request_right_after_start_waits_for_the_first_answer_and_succeeds()
    {
        dns.EnsureAvailable();
        await using var replica = await InProcessReplica.StartAsync("d1", cancellationToken: Token);
        const string name = "_http._tcp.inventory.mesh.test";
        await dns.SetRecordsAsync(
        [
            string.Create(CultureInfo.InvariantCulture, $"srv-host={name},d1.mesh.test,{replica.Port},0,1"),
            "host-record=d1.mesh.test,127.0.0.1",
        ]);
        using var host = AppHost.Build(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Dns:Server"] = dns.Server,
            ["Mesh:Services:inventory:Discovery"] = "Dns",
            ["Mesh:Services:inventory:Dns:Name"] = name,
            ["Mesh:Services:inventory:Dns:Scheme"] = "http",
        }, null, "inventory");

        await host.StartAsync(Token);
        using var response = await host.Client("inventory").GetAsync("/", Token);

        response.EnsureSuccessStatusCode();
        Assert.Equal(1, replica.RequestCount);
        await host.StopAsync(Token);
    }
}
