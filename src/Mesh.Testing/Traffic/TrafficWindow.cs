using System.Globalization;

namespace Mesh.Testing;

/// <summary>What happened since the previous window (for live views); see <see cref="TrafficRecorder.TakeWindow"/>.</summary>
public sealed class TrafficWindow
{
    /// <summary>Creates a window.</summary>
    /// <param name="elapsed">The window's length.</param>
    /// <param name="replicas">Per replica.</param>
    /// <param name="failures">Failed requests in the window.</param>
    public TrafficWindow(TimeSpan elapsed, IReadOnlyList<ReplicaTraffic> replicas, long failures)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        Elapsed = elapsed;
        Replicas = replicas;
        Failures = failures;
    }

    /// <summary>The window's length.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Successful requests and their latencies per replica: every replica seen so far, ordered by id (with 0
    /// requests when it answered nothing in this window).</summary>
    public IReadOnlyList<ReplicaTraffic> Replicas { get; }

    /// <summary>Failed requests in the window.</summary>
    public long Failures { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Replicas.Sum(r => r.Requests)} ok, {Failures} failed in {Elapsed.TotalSeconds:F1} s");
}
