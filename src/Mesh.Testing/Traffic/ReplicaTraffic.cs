using System.Globalization;

namespace Mesh.Testing;

/// <summary>Counts and latencies of one replica over a window or a run.</summary>
public sealed class ReplicaTraffic
{
    /// <summary>Creates the counts of one replica.</summary>
    /// <param name="replica">The replica id.</param>
    /// <param name="requests">Successful requests it answered.</param>
    /// <param name="latency">Their latencies.</param>
    public ReplicaTraffic(string replica, long requests, LatencySummary latency)
    {
        ArgumentNullException.ThrowIfNull(replica);
        ArgumentNullException.ThrowIfNull(latency);
        Replica = replica;
        Requests = requests;
        Latency = latency;
    }

    /// <summary>The replica id (or whatever <see cref="TrafficOptions.IdentifyReplica"/> names).</summary>
    public string Replica { get; }

    /// <summary>Successful requests it answered.</summary>
    public long Requests { get; }

    /// <summary>Their latencies.</summary>
    public LatencySummary Latency { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Replica}: {Requests} ({Latency})");
}
