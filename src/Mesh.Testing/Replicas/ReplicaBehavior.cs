using Grpc.Core;

namespace Mesh.Testing;

/// <summary>
/// What a test replica does with requests, changeable at run time (in process through this object, or over HTTP
/// through the replica's control API). Thread-safe.
/// </summary>
public sealed class ReplicaBehavior
{
    private long _latencyTicks;
    private double _latencyRate = 1.0;
    private double _errorRate;
    private volatile bool _hang;
    private volatile bool _healthy = true;
    private volatile string? _version;
    private volatile int _grpcErrorStatus = (int)StatusCode.Unavailable;
    private volatile bool _grpcStatusAfterMessages;

    /// <summary>Extra time each answer waits before it is sent.</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>The share of requests (0 to 1) that wait <see cref="Latency"/>; the others answer at once. Default: 1
    /// (every request). For example 0.1 with 50 ms: a replica slow on 10% of its answers, a tail to hedge.</summary>
    public double LatencyRate
    {
        get => Volatile.Read(ref _latencyRate);
        set => Volatile.Write(ref _latencyRate, Math.Clamp(value, 0, 1));
    }

    /// <summary>The share of requests (0 to 1) answered with 500 (HTTP) or with <see cref="GrpcErrorStatus"/> (gRPC).</summary>
    public double ErrorRate
    {
        get => Volatile.Read(ref _errorRate);
        set => Volatile.Write(ref _errorRate, Math.Clamp(value, 0, 1));
    }

    /// <summary>When true, requests are accepted and never answered (until the client gives up).</summary>
    public bool Hang
    {
        get => _hang;
        set => _hang = value;
    }

    /// <summary>Whether <c>/healthz</c> reports healthy (a gRPC health service added through the replica's options can read it too).</summary>
    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    /// <summary>The version the replica reports (for rolling updates and canaries); <see langword="null"/> for none.</summary>
    public string? Version
    {
        get => _version;
        set => _version = value;
    }

    /// <summary>The status of the errors injected into calls of the replica's gRPC service (<see cref="ErrorRate"/>).</summary>
    /// <value>Default: <see cref="StatusCode.Unavailable"/>.</value>
    public StatusCode GrpcErrorStatus
    {
        get => (StatusCode)_grpcErrorStatus;
        set => _grpcErrorStatus = (int)value;
    }

    /// <summary>Whether injected gRPC errors come in the trailers after the reply messages (for a unary call, after the
    /// response headers) rather than as a trailers-only response.</summary>
    /// <value>Default: <see langword="false"/> (trailers-only, as a server that fails before answering).</value>
    public bool GrpcStatusAfterMessages
    {
        get => _grpcStatusAfterMessages;
        set => _grpcStatusAfterMessages = value;
    }

    /// <summary>Back to normal: no latency (on every request again), no errors, no hang, healthy; gRPC errors <see cref="StatusCode.Unavailable"/>, trailers-only.</summary>
    public void Reset()
    {
        Latency = TimeSpan.Zero;
        LatencyRate = 1.0;
        ErrorRate = 0;
        Hang = false;
        Healthy = true;
        GrpcErrorStatus = StatusCode.Unavailable;
        GrpcStatusAfterMessages = false;
    }
}
