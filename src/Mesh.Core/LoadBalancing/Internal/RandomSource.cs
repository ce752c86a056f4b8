using System.Runtime.CompilerServices;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// The randomness a picker uses, injected so that picker tests can be exact (like YARP's <c>IRandomFactory</c> for
/// its power-of-two-choices policy). Implementations are thread-safe and allocate nothing per call.
/// </summary>
internal abstract class RandomSource
{
    /// <summary><see cref="Random.Shared"/>: thread-local, lock-free, different in every process. The default.</summary>
    public static RandomSource Shared { get; } = new SharedRandomSource();

    /// <summary>A reproducible sequence for tests: the same seed gives the same values in the same order.</summary>
    public static RandomSource Seeded(ulong seed) => new SeededRandomSource(seed);

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>); <paramref name="maxExclusive"/> is at least 1.</summary>
    public abstract int Next(int maxExclusive);

    /// <summary>A uniform double in [0, 1).</summary>
    public abstract double NextDouble();

    private sealed class SharedRandomSource : RandomSource
    {
        public override int Next(int maxExclusive) => Random.Shared.Next(maxExclusive);

        public override double NextDouble() => Random.Shared.NextDouble();
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood, 2014) over an atomically advanced counter: lock-free and
    /// thread-safe; from one thread the sequence depends only on the seed.</summary>
    private sealed class SeededRandomSource(ulong seed) : RandomSource
    {
        private const ulong Gamma = 0x9E3779B97F4A7C15UL;
        private long _state = unchecked((long)seed);

        public override int Next(int maxExclusive) => (int)((NextUInt64() >> 32) * (ulong)(uint)maxExclusive >> 32);

        // 53 random bits, as Random.NextDouble uses.
        public override double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private ulong NextUInt64()
        {
            var z = unchecked((ulong)Interlocked.Add(ref _state, unchecked((long)Gamma)));
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
