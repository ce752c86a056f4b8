using System.Globalization;
using System.Text;

namespace Mesh.Testing;

/// <summary>The outcome of a traffic run: per-replica counts, failures with their status or exception, latency percentiles,
/// and assertion helpers that explain themselves when they fail.</summary>
public sealed class TrafficReport
{
    internal TrafficReport(TimeSpan elapsed, IReadOnlyList<ReplicaTraffic> replicas, LatencySummary latency, long failed, IReadOnlyList<TrafficFailure> failures)
    {
        Elapsed = elapsed;
        Replicas = replicas;
        Latency = latency;
        Failed = failed;
        Failures = failures;
    }

    /// <summary>How long the run took.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Successful requests per replica.</summary>
    public IReadOnlyList<ReplicaTraffic> Replicas { get; }

    /// <summary>Latency of all successful requests.</summary>
    public LatencySummary Latency { get; }

    /// <summary>Successful requests.</summary>
    public long Succeeded => Latency.Count;

    /// <summary>Failed requests.</summary>
    public long Failed { get; }

    /// <summary>The failures (the first 1000), each with its status or exception.</summary>
    public IReadOnlyList<TrafficFailure> Failures { get; }

    /// <summary>Successful requests per second.</summary>
    public double Throughput => Elapsed > TimeSpan.Zero ? Succeeded / Elapsed.TotalSeconds : 0;

    /// <summary>Successful requests answered by <paramref name="replica"/>.</summary>
    public long CountOf(string replica) => Replicas.FirstOrDefault(r => r.Replica == replica)?.Requests ?? 0;

    /// <summary>The share (0 to 1) of successful requests answered by <paramref name="replica"/>.</summary>
    public double ShareOf(string replica) => Succeeded == 0 ? 0 : (double)CountOf(replica) / Succeeded;

    /// <summary>Throws <see cref="TrafficAssertionException"/> listing the failures when any request failed.</summary>
    public void AssertNoFailures()
    {
        if (Failed > 0)
        {
            throw new TrafficAssertionException($"{Failed} of {Failed + Succeeded} requests failed:{Environment.NewLine}" +
                string.Join(Environment.NewLine, Failures.Take(20).Select(f => $"  {f}")) +
                Environment.NewLine + this);
        }
    }

    /// <summary>Throws <see cref="TrafficAssertionException"/> unless each replica's share is within
    /// <paramref name="tolerance"/> (absolute, 0 to 1) of the expected share.</summary>
    /// <param name="expectedShares">Replica id → expected share (0 to 1); replicas not listed must get nothing.</param>
    /// <param name="tolerance">Allowed absolute difference, for example 0.05.</param>
    public void AssertDistribution(IReadOnlyDictionary<string, double> expectedShares, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(expectedShares);
        var problems = new List<string>();
        foreach (var name in expectedShares.Keys.Union(Replicas.Select(r => r.Replica)))
        {
            var expected = expectedShares.GetValueOrDefault(name);
            var actual = ShareOf(name);
            if (Math.Abs(actual - expected) > tolerance)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"  {name}: {actual:P1}, expected {expected:P1} ± {tolerance:P1}"));
            }
        }

        if (problems.Count > 0)
        {
            throw new TrafficAssertionException($"The traffic distribution is off:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}{Environment.NewLine}{this}");
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Succeeded} ok, {Failed} failed in {Elapsed.TotalSeconds:F1} s ({Throughput:F0} req/s); ");
        text.Append(CultureInfo.InvariantCulture, $"p50 {Latency.P50.TotalMilliseconds:F2} ms, p99 {Latency.P99.TotalMilliseconds:F2} ms");
        foreach (var replica in Replicas)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Environment.NewLine}  {replica.Replica}: {replica.Requests} ({ShareOf(replica.Replica):P1}), p50 {replica.Latency.P50.TotalMilliseconds:F2} ms, p99 {replica.Latency.P99.TotalMilliseconds:F2} ms");
        }

        return text.ToString();
    }
}

/// <summary>A traffic assertion failed; the message says what was expected and what happened.</summary>
public sealed class TrafficAssertionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrafficAssertionException(string message)
        : base(message)
    {
    }
}
