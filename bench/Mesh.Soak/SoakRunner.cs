using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json.Nodes;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;

namespace Mesh.Soak;

/// <summary>How a soak runs.</summary>
internal sealed record SoakOptions(TimeSpan Duration, double RequestsPerSecond, TimeSpan ChaosInterval, int Replicas = 3, int MaxInFlight = 512);

/// <summary>What a soak measured.</summary>
internal sealed record SoakResult(SoakOptions Options, List<PhaseStats> Phases, List<ResourceSample> Samples, ResourceSample Start, ResourceSample Middle, ResourceSample End,
    long RetryBudgetRefusals, IReadOnlyDictionary<string, long> AttemptsByOutcome, List<string> Events)
{
    public long Sent => Phases.Sum(p => p.Sent);

    public long Failed => Phases.Sum(p => p.Failed);

    public long Skipped => Phases.Sum(p => p.Skipped);

    /// <summary>Attempts that did not succeed, by chaos event, endpoint port and outcome.</summary>
    public IReadOnlyDictionary<string, long> Unsuccessful { get; init; } = new Dictionary<string, long>();
}

/// <summary>
/// The soak: a client app with the documented pattern (standard resilience outside the mesh, mTLS with SPIFFE IDs from
/// rotating files, endpoints from etcd) sends steady open-loop traffic to replica processes that register themselves in
/// a real etcd, while a chaos schedule kills, hangs, pauses, restarts and rolls replicas, reloads the configuration,
/// churns registrations, kills and restarts the etcd member and rotates every SVID.
/// </summary>
internal static class SoakRunner
{
    public static async Task<SoakResult> RunAsync(SoakOptions options, Action<string> log, CancellationToken cancellationToken = default)
    {
        await using var etcd = await EtcdProcess.StartAsync();
        using var ca = DevelopmentCertificateAuthority.Create(ReplicaServer.TrustDomain);
        var root = Directory.CreateTempSubdirectory("mesh-soak-").FullName;
        var replicas = new List<ReplicaHandle>();
        var nextId = 0;
        var version = 1;
        var events = new List<string>();
        try
        {
            var clientIdentity = Path.Combine(root, "client");
            WriteSvid(ca, $"spiffe://{ReplicaServer.TrustDomain}/storefront", clientIdentity);

            async Task<ReplicaHandle> StartReplicaAsync()
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"r{++nextId}");
                var directory = Path.Combine(root, id);
                WriteSvid(ca, $"spiffe://{ReplicaServer.TrustDomain}/{ReplicaServer.Service}", directory);
                var replica = await ReplicaHandle.StartAsync(id, string.Create(CultureInfo.InvariantCulture, $"v{version}"), directory, etcd.Url);
                replicas.Add(replica);
                events.Add(string.Create(CultureInfo.InvariantCulture, $"      replica {id} (v{version}) listens on port {replica.Port}"));
                return replica;
            }

            for (var i = 0; i < options.Replicas; i++)
            {
                await StartReplicaAsync();
            }

            var configFile = Path.Combine(root, "appsettings.json");
            var consecutiveFailures = 3;
            await File.WriteAllTextAsync(configFile, ClientConfiguration(clientIdentity, etcd.Url, consecutiveFailures), cancellationToken);
            using var host = BuildClient(configFile);
            using var meters = new MeshMeterCounts(host.Services.GetRequiredService<IMeterFactory>());
            await host.StartAsync(cancellationToken);
            var monitor = host.Services.GetRequiredService<MeshMonitor>();
            var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

            // Warm up: every replica known, connections made, code jitted.
            for (var i = 0; i < 200 && monitor.GetService(ReplicaServer.Service).Endpoints.Count < options.Replicas; i++)
            {
                await Task.Delay(50, cancellationToken);
            }

            for (var i = 0; i < 100; i++)
            {
                using var _ = await client.GetAsync("/items", cancellationToken);
            }

            var clock = Stopwatch.StartNew();
            var phases = new List<PhaseStats>();
            PhaseStats Begin(string name)
            {
                if (phases.Count > 0)
                {
                    phases[^1].EndedAt = clock.Elapsed;
                }

                var phase = new PhaseStats(name, clock.Elapsed);
                phases.Add(phase);
                return phase;
            }

            await using var sampler = new ResourceSampler(clock);
            var traffic = new TrafficLoop(client, options.RequestsPerSecond, options.MaxInFlight) { Phase = Begin("steady (before any chaos)") };
            using var stopTraffic = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var load = traffic.RunAsync(stopTraffic.Token);
            var timeline = TimelineAsync(clock, traffic, meters, log, stopTraffic.Token);

            // The baseline is taken under full traffic, once connection pools have grown to what steady load needs.
            await Task.Delay(options.ChaosInterval, cancellationToken);
            var start = Settled(clock);

            var actions = new (string Name, Func<Task> Run)[]
            {
                ("kill a replica (SIGKILL) and start another", async () =>
                {
                    var victim = replicas[0];
                    replicas.Remove(victim);
                    await victim.DisposeAsync();
                    await StartReplicaAsync();
                }),
                ("hang a replica for 2 s", async () =>
                {
                    var victim = replicas[^1];
                    await victim.HangAsync(true);
                    await Task.Delay(2000, cancellationToken);
                    await victim.HangAsync(false);
                }),
                ("rotate every SVID", () =>
                {
                    WriteSvid(ca, $"spiffe://{ReplicaServer.TrustDomain}/storefront", clientIdentity);
                    foreach (var r in replicas)
                    {
                        WriteSvid(ca, $"spiffe://{ReplicaServer.TrustDomain}/{ReplicaServer.Service}", Path.Combine(root, r.Id));
                    }

                    return Task.CompletedTask;
                }),
                ("pause a replica (SIGSTOP) for 2 s", async () =>
                {
                    var victim = replicas[replicas.Count / 2];
                    victim.Process.Pause(true);
                    await Task.Delay(2000, cancellationToken);
                    victim.Process.Pause(false);
                }),
                ("reload the configuration", () =>
                {
                    consecutiveFailures = consecutiveFailures == 3 ? 4 : 3;
                    return WriteAtomicallyAsync(configFile, ClientConfiguration(clientIdentity, etcd.Url, consecutiveFailures), cancellationToken);
                }),
                ("kill the etcd member for 2 s", async () =>
                {
                    await etcd.KillAsync();
                    await Task.Delay(2000, cancellationToken);
                    await etcd.StartAgainAsync();
                }),
                ("restart a replica gracefully", async () =>
                {
                    var victim = replicas[0];
                    replicas.Remove(victim);
                    await victim.StopGracefullyAsync();
                    await victim.DisposeAsync();
                    await StartReplicaAsync();
                }),
                ("registration churn: a replica joins, then leaves", async () =>
                {
                    var extra = await StartReplicaAsync();
                    await Task.Delay(2000, cancellationToken);
                    replicas.Remove(extra);
                    await extra.StopGracefullyAsync();
                    await extra.DisposeAsync();
                }),
                ("rolling update to the next version", async () =>
                {
                    version++;
                    foreach (var old in replicas.ToList())
                    {
                        await StartReplicaAsync();
                        await Task.Delay(300, cancellationToken);
                        replicas.Remove(old);
                        await old.StopGracefullyAsync();
                        await old.DisposeAsync();
                    }
                }),
            };

            ResourceSample? middle = null;
            var step = 0;
            while (clock.Elapsed < options.Duration && !cancellationToken.IsCancellationRequested)
            {
                var next = clock.Elapsed + options.ChaosInterval;
                if (middle is null && clock.Elapsed >= options.Duration / 2)
                {
                    middle = Settled(clock);
                }

                var (name, run) = actions[step++ % actions.Length];
                traffic.Phase = Begin(name);
                events.Add(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed:mm\\:ss} {name}"));
                meters.Event = string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed:mm\\:ss} {name}");
                log(string.Create(CultureInfo.InvariantCulture, $"  {clock.Elapsed:mm\\:ss} {name}"));
                await run();
                var remaining = next - clock.Elapsed;
                if (remaining > TimeSpan.Zero)
                {
                    await Task.Delay(remaining < options.Duration - clock.Elapsed ? remaining : Max(options.Duration - clock.Elapsed, TimeSpan.Zero), cancellationToken);
                }
            }

            await stopTraffic.CancelAsync();
            await load;
            await timeline;
            phases[^1].EndedAt = clock.Elapsed;
            await sampler.DisposeAsync();
            var end = Settled(clock);
            await host.StopAsync(CancellationToken.None);
            return new SoakResult(options, phases, sampler.Samples, start, middle ?? end, end, meters.RetryBudgetExhausted, meters.AttemptsByOutcome(), events)
            {
                Unsuccessful = meters.Unsuccessful(),
            };
        }
        finally
        {
            foreach (var r in replicas)
            {
                await r.DisposeAsync();
            }

            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Every 5 s, one line of what the last 5 s did: what a storm looks like from the inside (requests,
    /// failures, refusals, attempts that did not succeed, connections closed, sockets, in flight, CPU, threads).</summary>
    private static async Task TimelineAsync(Stopwatch clock, TrafficLoop traffic, MeshMeterCounts meters, Action<string> log, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        using var process = Process.GetCurrentProcess();
        var last = (Sent: traffic.Sent, Failed: traffic.Failed, Refused: meters.RetryBudgetExhausted, NotOk: meters.UnsuccessfulTotal, Closed: meters.ConnectionsClosed, Cpu: process.TotalProcessorTime, At: clock.Elapsed);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                process.Refresh();
                var now = (Sent: traffic.Sent, Failed: traffic.Failed, Refused: meters.RetryBudgetExhausted, NotOk: meters.UnsuccessfulTotal, Closed: meters.ConnectionsClosed, Cpu: process.TotalProcessorTime, At: clock.Elapsed);
                var cpu = (now.Cpu - last.Cpu) / (now.At - last.At) * 100;
                var sample = ResourceSample.Take(now.At);
                log(string.Create(CultureInfo.InvariantCulture,
                    $"    [{now.At:mm\\:ss}] sent {now.Sent - last.Sent}, failed {now.Failed - last.Failed}, refused {now.Refused - last.Refused}, attempts not ok {now.NotOk - last.NotOk}, connections closed {now.Closed - last.Closed}, sockets {sample.Sockets}, in flight {traffic.InFlight}, client CPU {cpu:F0}%, threads {sample.Threads} (pool {sample.ThreadPoolThreads}, queued {ThreadPool.PendingWorkItemCount})"));
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Replaces a file in one step, as deployment tools do (a ConfigMap update swaps a symlink): the
    /// configuration watcher must never read a half-written file (which, missing its Logging section, would turn
    /// every log category back to Information for the rest of the run).</summary>
    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, text, cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>A resource sample after a full collection, so that heap figures compare retained memory.</summary>
    private static ResourceSample Settled(Stopwatch clock)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return ResourceSample.Take(clock.Elapsed);
    }

    private static void WriteSvid(DevelopmentCertificateAuthority ca, string spiffeId, string directory)
    {
        Directory.CreateDirectory(directory);
        ca.WriteIdentityFiles(ca.IssueSvid(spiffeId, TimeSpan.FromHours(1)), directory);
    }

    /// <summary>The client's configuration file, as the docs write it.</summary>
    private static string ClientConfiguration(string identityDirectory, string etcdUrl, int consecutiveFailures) => new JsonObject
    {
        ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning", ["Polly"] = "None", ["Mesh.Health"] = "Error" } },
        ["Mesh"] = new JsonObject
        {
            ["Identity"] = new JsonObject
            {
                ["CertificatePath"] = Path.Combine(identityDirectory, "svid.pem"),
                ["KeyPath"] = Path.Combine(identityDirectory, "svid.key"),
                ["TrustBundlePath"] = Path.Combine(identityDirectory, "bundle.pem"),
                ["PollInterval"] = "00:00:00.500",
            },
            ["Discovery"] = new JsonObject
            {
                ["Etcd"] = new JsonObject { ["Endpoints"] = etcdUrl, ["RetryBaseDelay"] = "00:00:00.100", ["RetryMaxDelay"] = "00:00:01" },
            },
            ["Services"] = new JsonObject
            {
                [ReplicaServer.Service] = new JsonObject
                {
                    ["Discovery"] = "Etcd",
                    ["ServerIdentity"] = $"spiffe://{ReplicaServer.TrustDomain}/{ReplicaServer.Service}",
                    ["OutlierDetection"] = new JsonObject { ["ConsecutiveFailures"] = consecutiveFailures, ["BaseEjectionTime"] = "00:00:05" },
                    ["SlowStart"] = new JsonObject { ["Window"] = "00:00:02" },
                },
            },
        },
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    /// <summary>The client app: the documented pattern, standard resilience outside the mesh.</summary>
    private static IHost BuildClient(string configFile)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonFile(configFile, optional: false, reloadOnChange: true);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole();
        builder.Services.AddMetrics();
        builder.Services.AddMeshClient();
        builder.Services.AddMeshDiscovery();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri($"http://{ReplicaServer.Service}"))
            .AddStandardResilienceHandler(o =>
            {
                o.Retry.Delay = TimeSpan.FromMilliseconds(10);
                o.Retry.MaxRetryAttempts = 4;
                o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(1);
                o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(20);
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(5);
                o.CircuitBreaker.MinimumThroughput = 100_000; // the mesh ejects per endpoint; the client-wide breaker only for a total outage
            })
            .AddMeshHandler();
        return builder.Build();
    }
}

/// <summary>Counts the mesh's own metrics of one client: attempts by outcome, retries refused by the budget.</summary>
internal sealed class MeshMeterCounts : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _attempts = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _unsuccessful = new(StringComparer.Ordinal);
    private string _event = "00:00 start";
    private long _budget;
    private long _unsuccessfulTotal;
    private long _connectionsClosed;

    public MeshMeterCounts(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if ((instrument.Meter.Scope == factory && instrument.Name is "mesh.client.requests" or "mesh.retry_budget.exhausted") ||
                (instrument.Meter.Name == "System.Net.Http" && instrument.Name == "http.client.connection.duration"))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            // A connection closed (its duration is recorded when it ends): churn shows as many per second.
            Interlocked.Increment(ref _connectionsClosed);
        });
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "mesh.retry_budget.exhausted")
            {
                Interlocked.Add(ref _budget, value);
                return;
            }

            string? outcome = null;
            object? port = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "mesh.outcome" && tag.Value is string o)
                {
                    outcome = o;
                    _attempts.AddOrUpdate(o, value, (_, n) => n + value);
                }
                else if (tag.Key == "server.port")
                {
                    port = tag.Value;
                }
            }

            if (outcome is not null and not "success")
            {
                Interlocked.Add(ref _unsuccessfulTotal, value);
                // Which endpoint misbehaved during which chaos event: what the report needs to explain a burst.
                var key = string.Create(CultureInfo.InvariantCulture, $"{Volatile.Read(ref _event)} | port {port} | {outcome}");
                _unsuccessful.AddOrUpdate(key, value, (_, n) => n + value);
            }
        });
        _listener.Start();
    }

    /// <summary>The chaos event (time and name) attempts are attributed to from now on.</summary>
    public string Event { set => Volatile.Write(ref _event, value); }

    /// <summary>Attempts that did not succeed, by chaos event, endpoint port and outcome.</summary>
    public IReadOnlyDictionary<string, long> Unsuccessful() => new Dictionary<string, long>(_unsuccessful, StringComparer.Ordinal);

    public long RetryBudgetExhausted => Interlocked.Read(ref _budget);

    /// <summary>Attempts that did not succeed so far.</summary>
    public long UnsuccessfulTotal => Interlocked.Read(ref _unsuccessfulTotal);

    /// <summary>HTTP connections of the client closed so far (System.Net.Http's own metric).</summary>
    public long ConnectionsClosed => Interlocked.Read(ref _connectionsClosed);

    public IReadOnlyDictionary<string, long> AttemptsByOutcome() => new Dictionary<string, long>(_attempts, StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();
}
