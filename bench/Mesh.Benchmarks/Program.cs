using BenchmarkDotNet.Running;

// Per-request costs of the mesh, measured with BenchmarkDotNet ([MemoryDiagnoser] everywhere).
// Run all:      dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*'
// Run a class:  dotnet run -c Release --project bench/Mesh.Benchmarks -- --filter '*PickBenchmarks*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
