namespace Mesh.LoadBalancing.Internal;

/// <summary>What a picker needs to know about one pick. Passed by reference; never allocated.</summary>
internal readonly struct PickContext
{
    public PickContext(long now, ulong hash, bool hasHash, int attempt)
    {
        Now = now;
        Hash = hash;
        HasHash = hasHash;
        Attempt = attempt;
    }

    /// <summary>The current timestamp (TimeProvider ticks).</summary>
    public long Now { get; }

    /// <summary>The consistent-hashing key's hash, when <see cref="HasHash"/>.</summary>
    public ulong Hash { get; }

    /// <summary>Whether the request carries a consistent-hashing key.</summary>
    public bool HasHash { get; }

    /// <summary>0 for the first draw; higher when the previous draw was refused (already tried, probe busy).</summary>
    public int Attempt { get; }

    public PickContext WithAttempt(int attempt) => new(Now, Hash, HasHash, attempt);
}
