using System.Globalization;
using Grpc.Core;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Tests.GrpcTests;

/// <summary>
/// A fresh application per scenario, the way a user builds one: real Grpc.AspNetCore replicas on loopback (the test
/// replica's <c>mesh.testing.v1.ReplicaService</c>), <c>Host.CreateApplicationBuilder</c>, the mesh configured under
/// <c>Mesh:Services:catalog</c> from configuration, and <c>AddGrpcClient&lt;ReplicaServiceClient&gt;(o =&gt; o.Address =
/// new("http://catalog")).AddMeshHandler()</c>. Only public API.
/// </summary>
internal sealed class GrpcApp : IAsyncDisposable
{
    private GrpcApp(List<InProcessReplica> replicas, IHost host)
    {
        Replicas = replicas;
        Host = host;
    }

    public List<InProcessReplica> Replicas { get; }

    public IHost Host { get; }

    public ReplicaService.ReplicaServiceClient Client => Host.Services.GetRequiredService<ReplicaService.ReplicaServiceClient>();

    public MeshMonitor Monitor => Host.Services.GetRequiredService<MeshMonitor>();

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Starts <paramref name="replicas"/> gRPC replicas (r0, r1, ...) and an app whose mesh service
    /// <c>catalog</c> lists them, with <paramref name="settings"/> (keys relative to <c>Mesh:Services:catalog:</c>
    /// unless they start with <c>Mesh:</c>).</summary>
    public static async Task<GrpcApp> StartAsync(int replicas, Dictionary<string, string?>? settings = null,
        Action<IHttpClientBuilder>? configureClient = null, Action<IServiceCollection>? configureServices = null,
        Action<global::Grpc.Net.ClientFactory.GrpcClientFactoryOptions>? configureGrpc = null, Action<InProcessReplicaOptions>? configureReplica = null)
    {
        var started = new List<InProcessReplica>();
        for (var i = 0; i < replicas; i++)
        {
            var options = new InProcessReplicaOptions { EnableGrpc = true };
            configureReplica?.Invoke(options);
            started.Add(await InProcessReplica.StartAsync($"r{i}", options, Token));
        }

        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < started.Count; i++)
        {
            data[string.Create(CultureInfo.InvariantCulture, $"Mesh:Services:catalog:Endpoints:{i}")] = started[i].Address.ToString().TrimEnd('/');
        }

        foreach (var (key, value) in settings ?? [])
        {
            data[key.StartsWith("Mesh:", StringComparison.Ordinal) ? key : "Mesh:Services:catalog:" + key] = value;
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(data);
        configureServices?.Invoke(builder.Services);
        builder.Services.AddMeshClient();
        var client = builder.Services.AddGrpcClient<ReplicaService.ReplicaServiceClient>(o =>
        {
            o.Address = new Uri("http://catalog");
            configureGrpc?.Invoke(o);
        });
        configureClient?.Invoke(client);
        client.AddMeshHandler();
        var host = builder.Build();
        await host.StartAsync(Token);
        return new GrpcApp(started, host);
    }

    /// <summary>Sends <paramref name="count"/> unary calls one after another; returns the replies' replica ids and the
    /// status codes of the calls that failed.</summary>
    public async Task<(List<string> AnsweredBy, List<StatusCode> Failed)> UnaryAsync(int count, ReplicaRequest? request = null)
    {
        var answeredBy = new List<string>();
        var failed = new List<StatusCode>();
        for (var i = 0; i < count; i++)
        {
            try
            {
                answeredBy.Add((await Client.UnaryAsync(request ?? new ReplicaRequest(), cancellationToken: Token)).ReplicaId);
            }
            catch (RpcException ex)
            {
                failed.Add(ex.StatusCode);
            }
        }

        return (answeredBy, failed);
    }

    /// <summary>Reads server-streaming calls to their end, one after another; returns the replies per call's replica and
    /// the failed statuses.</summary>
    public async Task<(List<string> AnsweredBy, List<StatusCode> Failed)> StreamAsync(int count, ReplicaRequest request)
    {
        var answeredBy = new List<string>();
        var failed = new List<StatusCode>();
        for (var i = 0; i < count; i++)
        {
            using var call = Client.ServerStream(request, cancellationToken: Token);
            try
            {
                string? replica = null;
                await foreach (var reply in call.ResponseStream.ReadAllAsync(Token))
                {
                    replica = reply.ReplicaId;
                }

                answeredBy.Add(replica ?? "(no reply)");
            }
            catch (RpcException ex)
            {
                failed.Add(ex.StatusCode);
            }
        }

        return (answeredBy, failed);
    }

    public MeshEndpointSnapshot Endpoint(int replica) =>
        Monitor.GetService("catalog").Endpoints.Single(e => e.Endpoint.Address.Port == Replicas[replica].Port);

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync(CancellationToken.None);
        Host.Dispose();
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
