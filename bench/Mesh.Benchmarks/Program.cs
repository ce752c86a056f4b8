using BenchmarkDotNet.Running;

// Per-request costs of the mesh, measured with BenchmarkDotNet ([MemoryDiagnoser] everywhere).
// Run all:      dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*'
// Run a class:  dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*PickBenchmarks*'
// Quick allocation probe of the request path (no BenchmarkDotNet; all threads; for iterating on the handler):
//               dotnet run -c Release --project bench/Mesh.Benchmarks -- --probe-allocations
// How late short delays end (Task.Delay against the precise timer AddMeshHedging waits on):
//               dotnet run -c Release --project bench/Mesh.Benchmarks -- --timer-lateness
// What a connection pool per endpoint costs against one shared handler (heap, working set, fds, threads):
//               dotnet run -c Release --project bench/Mesh.Benchmarks -- --endpoint-pools [N]
if (args is ["--endpoint-pools", ..])
{
    await Mesh.Benchmarks.Http.EndpointPoolFootprint.RunAsync(args is [_, var n] ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 5_000);
    return;
}

if (args is ["--timer-lateness", ..])
{
    await Mesh.Benchmarks.Resilience.TimerLateness.RunAsync(500);
    return;
}

if (args is ["--probe-allocations", ..])
{
    var bench = new Mesh.Benchmarks.Http.HandlerOverheadBenchmarks { Balancer = Mesh.LoadBalancerKind.PeakEwma };
    await bench.Setup();
    if (args is [_, "--types"])
    {
        // Which types the mesh adds (sampled allocation events): dotnet run ... -- --probe-allocations --types
        await bench.ProbeAllocationTypesAsync(200_000);
        await bench.Cleanup();
        return;
    }

    Console.WriteLine($"{"case",-48} {"allocated",12} {"wall clock",12} {"CPU",12}");
    foreach (var (name, bytes, microseconds, cpu) in await bench.ProbeAllocationsAsync(28_000))
    {
        Console.WriteLine($"{name,-48} {bytes,10:F0} B {microseconds,9:F1} µs {cpu,9:F1} µs");
    }

    await bench.Cleanup();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
