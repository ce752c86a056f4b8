using System.Globalization;
using Mesh.Identity;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Soak;

/// <summary>
/// A replica in its own process (this program in <c>serve</c> mode): the test replica over mutual TLS, its SVID read
/// from files (so rotating them is a real rotation), registered in etcd under a lease by <c>AddMeshRegistration()</c>.
/// Commands arrive on standard input (<c>hang on|off</c>, <c>latency &lt;ms&gt;</c>); closing standard input stops it
/// gracefully (it deregisters first).
/// </summary>
internal static class ReplicaServer
{
    public const string Service = "catalog";
    public const string TrustDomain = "mesh.soak";

    public static async Task<int> ServeAsync(string id, string version, string identityDirectory, string etcdUrl)
    {
        using var identity = new MeshFileIdentitySource(new MeshIdentityOptions
        {
            CertificatePath = Path.Combine(identityDirectory, "svid.pem"),
            KeyPath = Path.Combine(identityDirectory, "svid.key"),
            TrustBundlePath = Path.Combine(identityDirectory, "bundle.pem"),
            PollInterval = TimeSpan.FromMilliseconds(500),
        });
        await using var replica = await InProcessReplica.StartAsync(id, new InProcessReplicaOptions
        {
            Version = version,
            Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2, // what ASP.NET Core serves over TLS by default
            ConfigureHttps = listen => listen.UseMeshIdentity(o =>
            {
                o.IdentitySource = identity;
                o.AuthorizedClients.Add(SpiffeIdPattern.Parse($"spiffe://{TrustDomain}/*"));
            }),
        });

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = etcdUrl,
            ["Mesh:Discovery:Etcd:RetryBaseDelay"] = "00:00:00.100",
            ["Mesh:Discovery:Etcd:RetryMaxDelay"] = "00:00:01",
            ["Mesh:Registration:Service"] = Service,
            ["Mesh:Registration:Address"] = replica.Address.ToString().TrimEnd('/'),
            ["Mesh:Registration:InstanceId"] = id,
            ["Mesh:Registration:LeaseTtl"] = "00:00:03",
            ["Mesh:Registration:Metadata:version"] = version,
        });
        builder.Services.AddMeshRegistration();
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY {replica.Port}"));

        // Commands until standard input closes.
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            switch (parts[0])
            {
                case "hang":
                    replica.Behavior.Hang = parts.Length > 1 && parts[1] == "on";
                    break;
                case "latency":
                    replica.Behavior.Latency = TimeSpan.FromMilliseconds(double.Parse(parts[1], CultureInfo.InvariantCulture));
                    break;
            }
        }

        replica.Behavior.Hang = false;
        await host.StopAsync(); // deregisters, then the server stops
        return 0;
    }
}

/// <summary>A replica process from the orchestrator's side.</summary>
internal sealed class ReplicaHandle(string id, string version, ChildProcess process, int port) : IAsyncDisposable
{
    public string Id { get; } = id;

    public string Version { get; } = version;

    public ChildProcess Process { get; } = process;

    public int Port { get; } = port;

    public static async Task<ReplicaHandle> StartAsync(string id, string version, string identityDirectory, string etcdUrl)
    {
        var (process, ready) = await ChildProcess.StartSelfAsync(["serve", id, version, identityDirectory, etcdUrl], "READY ", TimeSpan.FromSeconds(60));
        return new ReplicaHandle(id, version, process, int.Parse(ready.Split(' ')[1], CultureInfo.InvariantCulture));
    }

    public Task HangAsync(bool on) => Process.SendAsync(on ? "hang on" : "hang off");

    public Task StopGracefullyAsync() => Process.StopGracefullyAsync(TimeSpan.FromSeconds(10));

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
