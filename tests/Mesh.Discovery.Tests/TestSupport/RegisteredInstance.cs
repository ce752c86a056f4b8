using Mesh.Discovery.Registration.Internal;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Discovery.Tests.TestSupport;

/// <summary>A real replica (Kestrel on loopback) plus a small host that registers it with AddMeshRegistration().</summary>
internal sealed class RegisteredInstance : IAsyncDisposable
{
    private RegisteredInstance(InProcessReplica replica, IHost host)
    {
        Replica = replica;
        Host = host;
    }

    public InProcessReplica Replica { get; }

    public IHost Host { get; }

    public string Key => Replica.Address.ToString().TrimEnd('/');

    public MeshRegistrationService Registration => Host.Services.GetRequiredService<MeshRegistrationService>();

    public static async Task<RegisteredInstance> StartAsync(string id, string etcdUrl, string service, TimeSpan? leaseTtl = null, int weight = 1)
    {
        var replica = await InProcessReplica.StartAsync(id, cancellationToken: TestContext.Current.CancellationToken);
        var host = await StartHostAsync(etcdUrl, service, replica.Address.ToString().TrimEnd('/'), id, leaseTtl, weight);
        return new RegisteredInstance(replica, host);
    }

    public static async Task<IHost> StartHostAsync(string etcdUrl, string service, string address, string instanceId, TimeSpan? leaseTtl = null, int weight = 1)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = etcdUrl,
            ["Mesh:Discovery:Etcd:RetryBaseDelay"] = "00:00:00.100",
            ["Mesh:Discovery:Etcd:RetryMaxDelay"] = "00:00:00.500",
            ["Mesh:Registration:Service"] = service,
            ["Mesh:Registration:Address"] = address,
            ["Mesh:Registration:InstanceId"] = instanceId,
            ["Mesh:Registration:Weight"] = weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mesh:Registration:LeaseTtl"] = (leaseTtl ?? TimeSpan.FromSeconds(10)).ToString(),
            ["Mesh:Registration:Metadata:replica"] = instanceId,
        });
        builder.Services.AddMeshRegistration();
        var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        return host;
    }

    /// <summary>Graceful: the host stops (deregisters), then the replica stops.</summary>
    public async Task StopGracefullyAsync()
    {
        await Host.StopAsync(TestContext.Current.CancellationToken);
        Host.Dispose();
    }

    /// <summary>As a crash looks to the registry: the host is disposed without stopping, so no deregistration runs and
    /// keep-alives stop; the replica itself keeps answering.</summary>
    public async Task KillAsync()
    {
        if (Host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
        {
            // stopped or killed already
        }

        Host.Dispose();
        await Replica.DisposeAsync();
    }
}
