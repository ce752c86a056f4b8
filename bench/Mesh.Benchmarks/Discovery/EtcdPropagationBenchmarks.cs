using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Net.Client;
using Mesh.Endpoints.Internal;
using Mesh.Health.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks.Discovery;

/// <summary>
/// Update propagation latency from an etcd write to the client's balancer: a real etcd (started here on free
/// loopback ports, own data dir), a mesh client with AddMeshDiscovery() watching the service, and one key whose
/// weight flips per operation. "put → balancer" runs from sending the put until the service's picker has been
/// rebuilt with the new weight; "put acknowledged" is the put round trip alone (etcd's write + fsync), for
/// comparison. Each operation is one run (RunStrategy.Monitoring); read Median and P90.
/// Needs the etcd binary (apt-get install etcd-server).
/// Run: dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*EtcdPropagationBenchmarks*'
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
[Config(typeof(PropagationConfig))]
public class EtcdPropagationBenchmarks
{
    private const string Service = "bench";
    private const string Prefix = "/mesh/services/" + Service + "/";
    private BenchEtcd? _etcd;
    private GrpcChannel? _channel;
    private KV.KVClient _kv = null!;
    private ServiceProvider? _services;
    private ServiceRuntime _runtime = null!;
    private EndpointState _target = null!;
    private int _weight = 1;

    [Params(1, 10_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _etcd = await BenchEtcd.StartAsync();
        _channel = GrpcChannel.ForAddress(_etcd.Url);
        _kv = new KV.KVClient(_channel);
        for (var start = 0; start < Endpoints; start += 128)
        {
            var txn = new TxnRequest();
            for (var i = start; i < Math.Min(start + 128, Endpoints); i++)
            {
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(Prefix + "i" + i.ToString(CultureInfo.InvariantCulture)), Value = Value(i, 1) } });
            }

            await _kv.TxnAsync(txn);
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints"] = _etcd.Url,
            [$"Mesh:Services:{Service}:Discovery"] = "Etcd",
            [$"Mesh:Services:{Service}:LoadBalancer"] = "WeightedRoundRobin",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddMeshClient();
        services.AddMeshDiscovery();
        _services = services.BuildServiceProvider();
        var registry = _services.GetRequiredService<MeshRegistry>();
        registry.TryGetService(Service, out var runtime);
        _runtime = runtime!;
        var wait = Stopwatch.StartNew();
        while (_runtime.Endpoints.Length != Endpoints)
        {
            if (wait.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"the mesh saw {_runtime.Endpoints.Length} of {Endpoints} endpoints after 30 s");
            }

            await Task.Delay(10);
        }

        _target = _runtime.Endpoints.Single(e => e.Key == "http://10.0.0.0:8080");
    }

    private static ByteString Value(int i, int weight) => ByteString.CopyFromUtf8(string.Create(CultureInfo.InvariantCulture,
        $"{{\"Address\":\"http://10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}:8080\",\"Weight\":{weight}}}"));

    [Benchmark(Description = "put acknowledged")]
    public async Task PutAcknowledged()
    {
        _weight = _weight == 1 ? 2 : 1;
        await _kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(Prefix + "i0"), Value = Value(0, _weight) });
    }

    /// <summary>Not timed: lets the watch apply the put before the next one, so puts do not race.</summary>
    [IterationCleanup(Target = nameof(PutAcknowledged))]
    public void AfterPut() => WaitForBalancerAsync(_weight).GetAwaiter().GetResult();

    [Benchmark(Description = "put → balancer")]
    public async Task PutToBalancer()
    {
        _weight = _weight == 1 ? 2 : 1;
        var put = _kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(Prefix + "i0"), Value = Value(0, _weight) });
        await WaitForBalancerAsync(_weight);
        await put;
    }

    private Task WaitForBalancerAsync(int weight)
    {
        var wait = Stopwatch.StartNew();
        while (true)
        {
            // The state is kept across updates; its endpoint changes before the picker is rebuilt under the same lock,
            // so a picker that holds the state with the new weight means the balancer uses it.
            if (_target.Endpoint.Weight == weight && _runtime.Snapshot.Picker is { } picker && Array.IndexOf(picker.Endpoints, _target) >= 0)
            {
                return Task.CompletedTask;
            }

            if (wait.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException("the balancer did not see the new weight within 10 s");
            }

            Thread.Yield(); // let the watch run: spinning would take a core from it on a small machine
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services?.Dispose();
        _channel?.Dispose();
        _etcd?.Dispose();
    }

    private sealed class PropagationConfig : ManualConfig
    {
        public PropagationConfig()
        {
            AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(10).WithIterationCount(101).WithInvocationCount(1).WithUnrollFactor(1));
            AddColumn(StatisticColumn.Median, StatisticColumn.P90, StatisticColumn.Min, StatisticColumn.Max);
        }
    }
}

/// <summary>A single-member etcd on free loopback ports with its own temporary data dir; killed by its pid on dispose.</summary>
internal sealed class BenchEtcd : IDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    private BenchEtcd(Process process, string dataDir, string url)
    {
        _process = process;
        _dataDir = dataDir;
        Url = url;
    }

    public string Url { get; }

    public static async Task<BenchEtcd> StartAsync()
    {
        var executable = new[] { "/usr/bin/etcd", "/usr/local/bin/etcd", "/usr/sbin/etcd" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("etcd is not installed; apt-get install -y etcd-server");
        var client = FreePort();
        var peer = FreePort();
        var url = $"http://127.0.0.1:{client}";
        var dataDir = Path.Combine(Path.GetTempPath(), "mesh-bench-etcd-" + Guid.NewGuid().ToString("N")[..12]);
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            "--name", "bench", "--data-dir", dataDir, "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"bench=http://127.0.0.1:{peer}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("ready to serve client requests", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return new BenchEtcd(process, dataDir, url);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
