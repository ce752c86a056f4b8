using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Benchmarks.Http;

/// <summary>
/// What a plain-http endpoint's connection pool of its own costs (<c>EndpointPool</c>: one <see cref="SocketsHttpHandler"/>
/// per endpoint a process sends to), against one shared <see cref="SocketsHttpHandler"/> that holds a pool per address
/// (what the mesh used while it rewrote request URIs): the managed heap, the process's working set, open file
/// descriptors and threads after one request to each of <c>N</c> endpoints, every connection kept open. The endpoints
/// are <c>N</c> loopback addresses (127.x.y.z) of one Kestrel replica listening on all addresses, so the server's side
/// is the same in both cases.
/// <c>dotnet run -c Release --project bench/Mesh.Benchmarks -- --endpoint-pools [N]</c> (N = 5,000 by default: each connection is two file descriptors in this process, and the limit here is 20,000).
/// </summary>
internal static class EndpointPoolFootprint
{
    public static async Task RunAsync(int endpoints)
    {
        await using var replica = await InProcessReplica.StartAsync("footprint", new InProcessReplicaOptions { ListenAddress = IPAddress.Any });
        var addresses = Enumerable.Range(0, endpoints)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"http://127.{1 + (i / 62_500)}.{i / 250 % 250}.{1 + (i % 250)}:{replica.Port}"))
            .ToArray();

        Console.WriteLine($"{endpoints:N0} endpoints, one request to each, connections kept open");
        Console.WriteLine($"{"case",-58} {"heap",10} {"working set",12} {"fds",7} {"threads",8} {"time",8}");

        var shared = await MeasureAsync(async () =>
        {
            var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10) });
            foreach (var address in addresses)
            {
                using var response = await client.GetAsync(address);
                response.EnsureSuccessStatusCode();
            }

            return client;
        });
        Print("one SocketsHttpHandler, a pool per address (the rewrite path)", shared, endpoints);
        await DisposeAsync(shared.Keep); // its connections close: the server side is measured afresh below

        // The mesh knows the endpoints before the first request (its own state per endpoint is not measured here):
        // what the requests add is the pools and their connections.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var settings = new Dictionary<string, string?> { ["Mesh:Services:catalog:LoadBalancer"] = "RoundRobin" };
        for (var i = 0; i < addresses.Length; i++)
        {
            settings[$"Mesh:Services:catalog:Endpoints:{i}"] = addresses[i];
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        using (var first = await client.GetAsync("/"))
        {
            first.EnsureSuccessStatusCode(); // the client's handler chain is built
        }

        var mesh = await MeasureAsync(async () =>
        {
            for (var i = 1; i < addresses.Length; i++)
            {
                using var response = await client.GetAsync("/");
                response.EnsureSuccessStatusCode();
            }

            return host;
        });
        Print("mesh: a SocketsHttpHandler per endpoint (EndpointPool)", mesh, endpoints);

        Console.WriteLine();
        Console.WriteLine($"per endpoint, mesh − shared: heap {(mesh.Heap - shared.Heap) / (double)endpoints:N0} B, working set {(mesh.WorkingSet - shared.WorkingSet) / (double)endpoints:N0} B, " +
            $"fds {(mesh.Fds - shared.Fds) / (double)endpoints:F2}, threads {mesh.Threads - shared.Threads:+0;-0;0} in all");
        Console.WriteLine("(heap after a full collection; the working set of the second case reuses what the first freed, so compare heaps)");

        await host.StopAsync();
    }

    private readonly record struct Footprint(long Heap, long WorkingSet, int Fds, int Threads, TimeSpan Time, object Keep);

    private static async Task<Footprint> MeasureAsync(Func<Task<object>> run)
    {
        var (heap, workingSet, fds, threads) = Now();
        var watch = Stopwatch.StartNew();
        var keep = await run();
        var elapsed = watch.Elapsed;
        var after = Now();
        GC.KeepAlive(keep);
        return new Footprint(after.Heap - heap, after.WorkingSet - workingSet, after.Fds - fds, after.Threads - threads, elapsed, keep);
    }

    private static (long Heap, long WorkingSet, int Fds, int Threads) Now()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        var fds = OperatingSystem.IsLinux() ? Directory.GetFiles("/proc/self/fd").Length : process.HandleCount;
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64, fds, process.Threads.Count);
    }

    private static void Print(string name, Footprint f, int endpoints) =>
        Console.WriteLine($"{name,-58} {f.Heap / 1024.0 / 1024:N1} MB {f.WorkingSet / 1024.0 / 1024,9:N1} MB {f.Fds,7:N0} {f.Threads,8:+0;-0;0} {f.Time.TotalSeconds,6:N1} s");

    private static async Task DisposeAsync(object keep)
    {
        (keep as IDisposable)?.Dispose();
        await Task.Delay(TimeSpan.FromSeconds(1)); // the server notices the closed connections
    }
}
