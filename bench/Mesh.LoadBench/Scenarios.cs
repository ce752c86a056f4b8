using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.LoadBench;

/// <summary>A client under test and what must be disposed with it. With <see cref="Rotation"/>, each request goes to
/// the next of those clients (a static rotation with no balancer logic at all: the "direct, spread" baseline).</summary>
internal sealed record ClientUnderTest(string Name, HttpClient Client, IAsyncDisposable? Owner, HttpClient[]? Rotation = null) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        foreach (var c in Rotation ?? [])
        {
            c.Dispose();
        }

        if (Owner is not null)
        {
            await Owner.DisposeAsync();
        }
    }
}

/// <summary>Builds the clients compared: direct, through the mesh, through MESD, through a sidecar.</summary>
internal static class Clients
{
    public static ClientUnderTest Direct(Uri address) =>
        new("direct", new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = address,
        }, null);

    /// <summary>Direct HttpClients to each replica, used in turn: spreads load like a balancer, with no mesh or MESD code.</summary>
    public static ClientUnderTest DirectRotation(IReadOnlyList<Uri> addresses)
    {
        var clients = addresses.Select(a => Direct(a).Client).ToArray();
        return new("direct, rotating over 3", clients[0], null, clients);
    }

    public static ClientUnderTest Sidecar(string name, int port) => Direct(new Uri($"http://127.0.0.1:{port}")) with { Name = name };

    public static ClientUnderTest Mesh(string name, LoadBalancerKind balancer, IEnumerable<Uri> endpoints, Action<IHttpClientBuilder>? outer = null,
        DelegatingHandler? inner = null, global::Mesh.Identity.IMeshIdentitySource? identity = null, string? serverIdentity = null,
        Action<MeshServiceOptions>? configure = null)
    {
        var services = new ServiceCollection();
        if (identity is not null)
        {
            global::Mesh.Identity.MeshIdentityServiceCollectionExtensions.AddMeshIdentity(services, identity);
        }

        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = balancer, ServerIdentity = serverIdentity };
            foreach (var e in endpoints)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = e.ToString() });
            }

            catalog.OutlierDetection.BaseEjectionTime = TimeSpan.FromSeconds(30);
            configure?.Invoke(catalog);
            o.Services["catalog"] = catalog;
        });
        services.AddMetrics();
        var builder = services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        outer?.Invoke(builder);
        builder.AddMeshHandler();
        if (inner is not null and not AttemptRecorder)
        {
            builder.AddHttpMessageHandler(() => inner); // the mesh places itself innermost: this handler sees logical requests
        }

        var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        if (inner is AttemptRecorder recorder)
        {
            // The mesh is always the innermost handler, so attempts are observed where the mesh reports them: its request metric.
            recorder.ListenToMesh(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        }

        return new(name, client, provider);
    }

    /// <summary>Microsoft.Extensions.ServiceDiscovery with configuration endpoints (round robin, no health input).</summary>
    public static ClientUnderTest ServiceDiscovery(string name, IEnumerable<Uri> endpoints, Action<IHttpClientBuilder>? outer = null, DelegatingHandler? inner = null)
    {
        var settings = endpoints.Select((e, i) => new KeyValuePair<string, string?>($"Services:catalog:http:{i}", $"http://{e.Host}:{e.Port}"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddServiceDiscovery();
        var builder = services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"));
        outer?.Invoke(builder);
        builder.AddServiceDiscovery();
        if (inner is not null)
        {
            builder.AddHttpMessageHandler(() => inner);
        }

        var provider = services.BuildServiceProvider();
        return new(name, provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog"), provider);
    }

    /// <summary>The same MESD configuration read through MESD's resolver pipeline (<c>AddServiceDiscovery()</c>), with the
    /// mesh on top (<c>Discovery: ServiceDiscovery</c>, <c>AddMeshServiceDiscovery()</c>): the "Aspire / MESD users" path.</summary>
    public static ClientUnderTest MeshOverServiceDiscovery(string name, LoadBalancerKind balancer, IEnumerable<Uri> endpoints)
    {
        var settings = endpoints.Select((e, i) => new KeyValuePair<string, string?>($"Services:catalog:http:{i}", $"http://{e.Host}:{e.Port}")).ToList();
        settings.Add(new("Mesh:Services:catalog:Discovery", "ServiceDiscovery"));
        settings.Add(new("Mesh:Services:catalog:LoadBalancer", balancer.ToString()));
        settings.Add(new("Mesh:Services:catalog:OutlierDetection:BaseEjectionTime", "00:00:30"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddServiceDiscovery();
        services.AddMeshClient();
        services.AddMeshServiceDiscovery();
        services.AddMetrics();
        services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<MeshOptions>>().Value; // validated as on start

        // Discovery sources run as hosted services, as in an app's host: start them (there is no host here).
        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            hosted.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        return new(name, provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog"), provider);
    }

    public static void FastRetries(IHttpClientBuilder builder) =>
        builder.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(10));

    public static void Hedging(IHttpClientBuilder builder) =>
        builder.AddStandardHedgingHandler().Configure(o => o.Hedging.Delay = TimeSpan.FromMilliseconds(50));
}

/// <summary>Records every attempt (after the balancer rewrote it): when and to which port.</summary>
internal sealed class AttemptRecorder : DelegatingHandler
{
    private System.Diagnostics.Metrics.MeterListener? _listener;

    public ConcurrentQueue<(long Timestamp, int Port, bool Ok)> Attempts { get; } = new();

    /// <summary>Records the attempts of a mesh client from its <c>mesh.client.requests</c> metric (endpoint labels on).</summary>
    public void ListenToMesh(System.Diagnostics.Metrics.IMeterFactory factory)
    {
        _listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == "mesh.client.requests")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            int port = 0;
            var ok = false;
            foreach (var tag in tags)
            {
                if (tag.Key == "server.port" && tag.Value is int p)
                {
                    port = p;
                }
                else if (tag.Key == "mesh.outcome")
                {
                    ok = tag.Value as string == "success";
                }
            }

            Attempts.Enqueue((Stopwatch.GetTimestamp(), port, ok));
        });
        _listener.Start();
    }

    protected override void Dispose(bool disposing)
    {
        _listener?.Dispose();
        base.Dispose(disposing);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var port = request.RequestUri!.Port;
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            Attempts.Enqueue((Stopwatch.GetTimestamp(), port, response.IsSuccessStatusCode));
            return response;
        }
        catch
        {
            Attempts.Enqueue((Stopwatch.GetTimestamp(), port, false));
            throw;
        }
    }
}

/// <summary>The three measurements of the performance proof.</summary>
internal static class Scenarios
{
    private static readonly LoadBalancerKind[] s_balancers =
        [LoadBalancerKind.RoundRobin, LoadBalancerKind.WeightedRoundRobin, LoadBalancerKind.Random, LoadBalancerKind.LeastRequest, LoadBalancerKind.PeakEwma, LoadBalancerKind.ConsistentHash];

    /// <summary>Overhead: the same three loopback replicas, called directly, through the mesh (each balancer),
    /// through nginx as a sidecar and through MESD; interleaved rounds; medians.</summary>
    public static async Task<List<RunResult>> OverheadAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        for (var i = 0; i < 3; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"r{i}"));
        }

        await using var nginx = await NginxSidecar.StartAsync(replicas.Select(r => r.Port));
        var endpoints = replicas.Select(r => r.Address).ToList();
        var clients = new List<ClientUnderTest> { Clients.Direct(endpoints[0]), Clients.DirectRotation(endpoints) };
        clients.AddRange(s_balancers.Select(b => Clients.Mesh($"mesh {b}", b, endpoints)));
        clients.Add(Clients.ServiceDiscovery("MESD (round robin)", endpoints));
        if (nginx is not null)
        {
            clients.Add(Clients.Sidecar("nginx sidecar", nginx.Port));
        }

        try
        {
            return await RunInterleavedAsync("overhead", clients, settings);
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }
    }

    /// <summary>Warms every client up, then runs interleaved rounds (in a different order each round, so drift on a
    /// shared machine hits all configurations alike) at each concurrency; disposes the clients.</summary>
    private static async Task<List<RunResult>> RunInterleavedAsync(string label, List<ClientUnderTest> clients, BenchSettings settings)
    {
        var results = new List<RunResult>();
        try
        {
            foreach (var client in clients)
            {
                await LoadRunner.RunAsync(client, 8, settings.Warmup); // JIT, connections
            }

            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var concurrency in settings.Concurrency)
                {
                    foreach (var client in round % 2 == 0 ? clients : Enumerable.Reverse(clients))
                    {
                        var result = await LoadRunner.RunAsync(client, concurrency, settings.Duration);
                        results.Add(result);
                        Console.WriteLine($"  {label} round {round + 1}/{settings.Rounds} C={concurrency,-3} {client.Name,-30} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50Us,6:F0} µs  p99 {result.P99Us,6:F0} µs  failed {result.Failed}");
                    }
                }
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        return results;
    }

    /// <summary>Overhead with mutual TLS: the same replicas serving mTLS with SPIFFE SVIDs from a development CA;
    /// direct clients do the same SPIFFE checks (MeshTlsClient), so the difference is the mesh's own work.</summary>
    public static async Task<List<RunResult>> OverheadTlsAsync(BenchSettings settings)
    {
        using var ca = Mesh.Testing.Identity.DevelopmentCertificateAuthority.Create("mesh.bench");
        var certs = Directory.CreateTempSubdirectory("mesh-bench-certs-");
        ca.WriteIdentityFiles(ca.IssueSvid("spiffe://mesh.bench/catalog"), certs.FullName);
        var client = ca.CreateIdentitySource("spiffe://mesh.bench/client");
        var expected = Mesh.Identity.SpiffeIdPattern.Parse("spiffe://mesh.bench/catalog");
        var replicas = new List<ReplicaProcess>();
        for (var i = 0; i < 3; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"r{i}", certs.FullName));
        }

        var endpoints = replicas.Select(r => r.Address).ToList();
        HttpClient DirectTls(Uri address) => new(Mesh.Identity.MeshTlsClient.Configure(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }, client, expected))
        {
            BaseAddress = address,
        };
        var rotation = endpoints.Select(DirectTls).ToArray();
        var clients = new List<ClientUnderTest>
        {
            new("direct mTLS", DirectTls(endpoints[0]), null),
            new("direct mTLS, rotating over 3", rotation[0], null, rotation),
            Clients.Mesh("mesh PeakEwma, mTLS", LoadBalancerKind.PeakEwma, endpoints, identity: client, serverIdentity: expected.ToString()),
            Clients.Mesh("mesh RoundRobin, mTLS", LoadBalancerKind.RoundRobin, endpoints, identity: client, serverIdentity: expected.ToString()),
            MesdTls(),
        };

        ClientUnderTest MesdTls()
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(
                endpoints.Select((e, i) => new KeyValuePair<string, string?>($"Services:catalog:https:{i}", $"{e.Host}:{e.Port}"))).Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddServiceDiscovery();
            services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("https://catalog"))
                .ConfigurePrimaryHttpMessageHandler(() => Mesh.Identity.MeshTlsClient.Configure(new SocketsHttpHandler { UseProxy = false }, client, expected))
                .AddServiceDiscovery();
            var provider = services.BuildServiceProvider();
            return new("MESD (round robin), mTLS", provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog"), provider);
        }

        try
        {
            return await RunInterleavedAsync("overhead-mtls", clients, settings);
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }

            certs.Delete(recursive: true);
        }
    }

    /// <summary>Tail latency under trouble: five replicas, one made slow (+50 ms) or failing (10% errors).</summary>
    public static async Task<List<(string Scenario, RunResult Result)>> TroubleAsync(BenchSettings settings)
    {
        var replicas = new List<ReplicaProcess>();
        for (var i = 0; i < 5; i++)
        {
            replicas.Add(await ReplicaProcess.StartAsync($"r{i}"));
        }

        var endpoints = replicas.Select(r => r.Address).ToList();
        using var control = new HttpClient();
        var results = new List<(string, RunResult)>();
        var scenarios = new (string Name, Func<Task> Apply)[]
        {
            ("all healthy", () => replicas[4].ControlAsync(control, "reset", "")),
            ("one replica +50 ms", () => replicas[4].ControlAsync(control, "latency", "50")),
            ("one replica 10% errors", async () => { await replicas[4].ControlAsync(control, "reset", ""); await replicas[4].ControlAsync(control, "errors", "0.1"); }),
        };
        try
        {
            for (var round = 0; round < settings.Rounds; round++)
            {
                foreach (var (name, apply) in scenarios)
                {
                    await apply();
                    // A fresh client per run: every balancer starts from nothing and has to find the bad replica itself.
                    var clients = new List<ClientUnderTest>
                    {
                        Clients.Mesh("mesh PeakEwma", LoadBalancerKind.PeakEwma, endpoints),
                        Clients.Mesh("mesh LeastRequest", LoadBalancerKind.LeastRequest, endpoints),
                        Clients.Mesh("mesh RoundRobin", LoadBalancerKind.RoundRobin, endpoints),
                        Clients.ServiceDiscovery("MESD (round robin)", endpoints),
                        Clients.MeshOverServiceDiscovery("MESD providers + mesh", LoadBalancerKind.PeakEwma, endpoints),
                    };
                    foreach (var client in clients)
                    {
                        var result = await LoadRunner.RunAsync(client.Name, client.Client, 16, settings.Duration);
                        results.Add((name, result));
                        Console.WriteLine($"  trouble round {round + 1}/{settings.Rounds} {name,-24} {client.Name,-20} p50 {result.P50Us,7:F0} µs  p99 {result.P99Us,7:F0} µs  failed {result.Failed}");
                        await client.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }
        }

        return results;
    }

    /// <summary>Failover: a replica process killed under load; failed requests and the time until no attempt reaches it.</summary>
    public static async Task<List<FailoverResult>> FailoverAsync(BenchSettings settings)
    {
        var configs = new (string Name, Func<IReadOnlyList<Uri>, AttemptRecorder, ClientUnderTest> Create)[]
        {
            ("mesh PeakEwma, no retries", (e, r) => Clients.Mesh("mesh", LoadBalancerKind.PeakEwma, e, null, r)),
            ("mesh PeakEwma + standard resilience", (e, r) => Clients.Mesh("mesh", LoadBalancerKind.PeakEwma, e, Clients.FastRetries, r)),
            ("mesh PeakEwma + standard hedging", (e, r) => Clients.Mesh("mesh", LoadBalancerKind.PeakEwma, e, Clients.Hedging, r)),
            ("MESD, no retries", (e, r) => Clients.ServiceDiscovery("mesd", e, null, r)),
            ("MESD + standard resilience", (e, r) => Clients.ServiceDiscovery("mesd", e, Clients.FastRetries, r)),
        };
        var results = new List<FailoverResult>();
        for (var round = 0; round < Math.Max(1, settings.Rounds / 2); round++)
        {
            foreach (var (name, create) in configs)
            {
                var replicas = new List<ReplicaProcess>();
                for (var i = 0; i < 3; i++)
                {
                    replicas.Add(await ReplicaProcess.StartAsync($"r{i}"));
                }

                var recorder = new AttemptRecorder();
                await using var client = create(replicas.Select(r => r.Address).ToList(), recorder);
                var load = LoadRunner.RunAsync(name, client.Client, 8, settings.Duration * 2);
                await Task.Delay(settings.Duration * 2 / 3);
                var victim = replicas[1];
                victim.Kill(); // returns once the process is gone
                var killedAt = Stopwatch.GetTimestamp();
                var result = await load;
                var last = recorder.Attempts.Where(a => a.Port == victim.Port && a.Timestamp > killedAt).Select(a => a.Timestamp).DefaultIfEmpty(killedAt).Max();
                var failover = new FailoverResult(name, result.Failed, result.Ok, Stopwatch.GetElapsedTime(killedAt, last).TotalMilliseconds,
                    recorder.Attempts.Count(a => a.Port == victim.Port && a.Timestamp > killedAt));
                results.Add(failover);
                Console.WriteLine($"  failover round {round + 1} {name,-38} failed {failover.Failed,5}  attempts to the dead replica {failover.AttemptsAfterKill,5}  last one {failover.LastAttemptMs,8:F0} ms after the kill");
                foreach (var r in replicas)
                {
                    await r.DisposeAsync();
                }
            }
        }

        return results;
    }
}

/// <summary>One failover run.</summary>
internal sealed record FailoverResult(string Config, long Failed, long Ok, double LastAttemptMs, int AttemptsAfterKill);

/// <summary>How long and how often to measure.</summary>
internal sealed record BenchSettings(int Rounds, TimeSpan Duration, TimeSpan Warmup, int[] Concurrency);
