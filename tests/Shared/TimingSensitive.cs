namespace Mesh.Tests.Shared;

/// <summary>
/// Tests whose assertions depend on timing (real replicas under load, health-check intervals, latency-aware
/// balancing). They run alone, after the parallel tests of their assembly, so that a 2-core machine busy with other
/// tests does not turn a healthy replica into a slow one.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive
{
    public const string Name = "Timing-sensitive";
}
