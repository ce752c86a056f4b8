using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HdrHistogram;

namespace Mesh.LoadBench;

/// <summary>A replica in its own process (this program in <c>serve</c> mode), so that a kill is a real crash.</summary>
internal sealed class ReplicaProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ReplicaProcess(string id, Process process, int port)
    {
        Id = id;
        _process = process;
        Port = port;
    }

    public string Id { get; }

    public int Port { get; }

    public Uri Address => new($"{Scheme}://127.0.0.1:{Port}");

    public static async Task<ReplicaProcess> StartAsync(string id, string? identityDirectory = null, bool grpc = false)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(ReplicaProcess).Assembly.Location);
        }

        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(id);
        if (identityDirectory is not null)
        {
            info.ArgumentList.Add(identityDirectory);
        }

        if (grpc)
        {
            info.ArgumentList.Add("--grpc");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start a replica process");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"replica {id} exited before listening");
        return new ReplicaProcess(id, process, int.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture)) { Scheme = identityDirectory is null ? "http" : "https" };
    }

    /// <summary>http, or https when the replica serves mTLS.</summary>
    public string Scheme { get; private init; } = "http";

    /// <summary>Ends the process at once (SIGKILL): connections reset, the port refuses.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
    }

    public async Task ControlAsync(HttpClient control, string what, string value)
    {
        using var response = await control.PostAsync(new Uri(Address, $"/control/{what}?value={value}"), null);
        response.EnsureSuccessStatusCode();
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the replica exits when its stdin closes
            if (!_process.WaitForExit(2000))
            {
                Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The <c>serve</c> mode: one in-process replica (with mTLS when given a directory of SVID files; serving
    /// gRPC over h2c with <c>--grpc</c>) with network-like latency on request (<see cref="NetworkLatency"/>); prints its
    /// port; exits when stdin closes.</summary>
    public static async Task<int> ServeAsync(string id, string? identityDirectory, bool grpc = false)
    {
        var options = new Mesh.Testing.InProcessReplicaOptions { EnableGrpc = grpc, ConfigureApp = new NetworkLatency().Install };
        if (identityDirectory is not null)
        {
            var identity = new Mesh.Identity.MeshFileIdentitySource(new Mesh.Identity.MeshIdentityOptions
            {
                CertificatePath = Path.Combine(identityDirectory, "svid.pem"),
                KeyPath = Path.Combine(identityDirectory, "svid.key"),
                TrustBundlePath = Path.Combine(identityDirectory, "bundle.pem"),
            });
            options.ConfigureHttps = listen => Mesh.Identity.MeshKestrelExtensions.UseMeshIdentity(listen, o =>
            {
                o.IdentitySource = identity;
                o.AuthorizedClients.Add(Mesh.Identity.SpiffeIdPattern.Parse("spiffe://mesh.bench/*"));
            });
        }

        await using var replica = await Mesh.Testing.InProcessReplica.StartAsync(id, options);
        Console.WriteLine($"PORT {replica.Port}");
        Console.Out.Flush();
        await Console.In.ReadToEndAsync();
        return 0;
    }
}

/// <summary>nginx from Debian's packages as a loopback sidecar: an upstream over the replicas with keep-alive.</summary>
internal sealed class NginxSidecar : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _prefix;

    private NginxSidecar(Process process, string prefix, int port)
    {
        _process = process;
        _prefix = prefix;
        Port = port;
    }

    public int Port { get; }

    public static async Task<NginxSidecar?> StartAsync(IEnumerable<int> upstreamPorts)
    {
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists);
        if (nginx is null)
        {
            Console.Error.WriteLine("nginx is not installed (apt-get install -y nginx-light or nginx); the sidecar configuration is skipped.");
            return null;
        }

        var port = FreePort();
        var prefix = Directory.CreateTempSubdirectory("mesh-nginx-").FullName;
        var upstream = string.Join("\n", upstreamPorts.Select(p => $"    server 127.0.0.1:{p};"));
        await File.WriteAllTextAsync(Path.Combine(prefix, "nginx.conf"), $$"""
            worker_processes 2;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              client_body_temp_path {{prefix}}/body;
              proxy_temp_path {{prefix}}/proxy;
              upstream catalog {
            {{upstream}}
                keepalive 256;
              }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  proxy_pass http://catalog;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                }
              }
            }
            """);
        var info = new ProcessStartInfo(nginx) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { "-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-g", "daemon off;" })
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port);
                return new NginxSidecar(process, prefix, port);
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        process.Kill();
        throw new InvalidOperationException("nginx did not listen: " + await process.StandardError.ReadToEndAsync());
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_prefix, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The result of one timed run of one configuration.</summary>
internal sealed record RunResult(string Config, int Concurrency, double RequestsPerSecond, double P50Us, double P99Us, double P999Us, long Ok, long Failed)
{
    /// <summary>The 95th percentile (the hedging delay "The Tail at Scale" recommends).</summary>
    public double P95Us { get; init; }

    /// <summary>Failed requests by what failed them (exception type, or <c>HTTP {status}</c>).</summary>
    public IReadOnlyDictionary<string, long> Failures { get; init; } = new Dictionary<string, long>();
}

/// <summary>Closed-loop load: <c>concurrency</c> workers sending GETs back to back for a duration.</summary>
internal static class LoadRunner
{
    public static Task<RunResult> RunAsync(ClientUnderTest client, int concurrency, TimeSpan duration) =>
        RunAsync(client.Name, client.Client, concurrency, duration, "/items", client.Rotation);

    public static async Task<RunResult> RunAsync(string config, HttpClient client, int concurrency, TimeSpan duration, string path = "/items", HttpClient[]? rotation = null)
    {
        var tally = new LoadTally(config, concurrency);
        await RunAsync(tally, client, concurrency, duration, path, rotation);
        return tally.ToResult();
    }

    /// <summary>Runs <paramref name="concurrency"/> closed-loop workers against <paramref name="client"/> for
    /// <paramref name="duration"/>, adding what they measure to <paramref name="tally"/> (which may already hold other
    /// slices of the same configuration).</summary>
    public static async Task RunAsync(LoadTally tally, HttpClient client, int concurrency, TimeSpan duration, string path = "/items", HttpClient[]? rotation = null)
    {
        long turn = 0;
        var histogram = tally.Histogram;
        long ok = 0, failed = 0;
        var failures = tally.Failures;
        var clock = Stopwatch.StartNew();
        var end = duration.Ticks;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10_000_000 && clock.Elapsed.Ticks < end; i++)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    var target = rotation is null ? client : rotation[(int)((ulong)Interlocked.Increment(ref turn) % (ulong)rotation.Length)];
                    using var response = await target.GetAsync(path, HttpCompletionOption.ResponseContentRead);
                    if (response.IsSuccessStatusCode)
                    {
                        histogram.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds));
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                        failures.AddOrUpdate($"HTTP {(int)response.StatusCode}", 1, static (_, n) => n + 1);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or MeshRetryBudgetExceededException or Polly.CircuitBreaker.BrokenCircuitException or Polly.Timeout.TimeoutRejectedException)
                {
                    Interlocked.Increment(ref failed);
                    failures.AddOrUpdate(ex.GetType().Name, 1, static (_, n) => n + 1);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        tally.Add(ok, failed, clock.Elapsed);
    }

    /// <summary>The median, leaving out NaN (a percentile of a run in which nothing was answered).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>What one configuration's runs measured, added up over one or more slices of time (see
/// <see cref="LoadRunner.RunAsync(LoadTally, HttpClient, int, TimeSpan, string, HttpClient[])"/>).</summary>
internal sealed class LoadTally(string config, int concurrency)
{
    private long _ok;
    private long _failed;
    private TimeSpan _elapsed;

    /// <summary>Latencies of the answered requests, µs.</summary>
    public LongConcurrentHistogram Histogram { get; } = new(1, 60_000_000, 3);

    /// <summary>Failed requests by what failed them.</summary>
    public ConcurrentDictionary<string, long> Failures { get; } = new();

    /// <summary>Requests sent so far (answered and failed).</summary>
    public long Requests => Interlocked.Read(ref _ok) + Interlocked.Read(ref _failed);

    /// <summary>Adds one run's counts and duration.</summary>
    public void Add(long ok, long failed, TimeSpan elapsed)
    {
        Interlocked.Add(ref _ok, ok);
        Interlocked.Add(ref _failed, failed);
        _elapsed += elapsed;
    }

    /// <summary>Adds everything this tally holds to <paramref name="total"/>.</summary>
    public void AddTo(LoadTally total)
    {
        total.Histogram.Add(Histogram);
        foreach (var (key, count) in Failures)
        {
            total.Failures.AddOrUpdate(key, count, (_, n) => n + count);
        }

        total.Add(_ok, _failed, _elapsed);
    }

    /// <summary>The percentiles and throughput of everything added.</summary>
    public RunResult ToResult()
    {
        // HdrHistogram throws on an empty histogram: with no request answered (all failed), there is no percentile.
        double At(double percentile) => _ok == 0 ? double.NaN : Histogram.GetValueAtPercentile(percentile);
        return new RunResult(config, concurrency, _ok / _elapsed.TotalSeconds, At(50), At(99), At(99.9), _ok, _failed)
        {
            P95Us = At(95),
            Failures = new Dictionary<string, long>(Failures),
        };
    }
}

/// <summary>Facts about the machine, for the report.</summary>
internal static class Machine
{
    public static string Describe()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} vCPU ({cpu ?? "unknown CPU"}), ");
        text.Append(CultureInfo.InvariantCulture, $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, ");
        text.Append(CultureInfo.InvariantCulture, $"load average at start {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?")}");
        return text.ToString();
    }
}
