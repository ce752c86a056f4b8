using System.IO.Hashing;
using System.Runtime.InteropServices;
using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., 2016; Envoy's weighted variant). Each endpoint fills table slots in
/// the order of its own permutation, in proportion to its weight, so a key's slot maps to the same endpoint as long
/// as the set is unchanged, and removing one of n endpoints moves only about 1/n of the keys. Requests without a key
/// go to a random slot.
/// </summary>
internal sealed class MaglevPicker : EndpointPicker
{
    /// <summary>The table size for up to 655 endpoints (Envoy's default, a prime).</summary>
    public const int DefaultTableSize = 65537;

    private readonly int[] _table;
    private readonly RandomSource _random;

    public MaglevPicker(EndpointState[] endpoints, double[] weights, RandomSource random)
        : base(endpoints)
    {
        _table = Build(endpoints, weights);
        _random = random;
    }

    /// <summary>The number of slots; prime, and at least 100 per endpoint.</summary>
    public int TableSize => _table.Length;

    public override EndpointState Pick(in PickContext context)
    {
        ulong slot;
        if (!context.HasHash)
        {
            slot = (ulong)_random.Next(_table.Length);
        }
        else
        {
            // A refused draw moves to a different, still deterministic slot.
            var hash = context.Attempt == 0 ? context.Hash : Mix(context.Hash + (ulong)context.Attempt);
            slot = hash % (ulong)_table.Length;
        }

        return Endpoints[_table[slot]];
    }

    /// <summary>The stable 64-bit hash of a key (XxHash3 over its UTF-16 code units), equal in every process.</summary>
    public static ulong HashKey(ReadOnlySpan<char> key) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(key));

    private static int[] Build(EndpointState[] endpoints, double[] weights)
    {
        var n = endpoints.Length;
        var size = n * 100 <= DefaultTableSize ? DefaultTableSize : NextPrime(n * 100);
        var table = new int[size];
        Array.Fill(table, -1);

        // position[i] walks endpoint i's permutation offset, offset + skip, offset + 2·skip, ... (mod size), kept
        // in range by subtraction rather than a multiply and a modulo per probe.
        var position = new int[n];
        var skip = new int[n];
        var target = new double[n];
        var max = 0.0;
        for (var i = 0; i < n; i++)
        {
            var key = MemoryMarshal.AsBytes(endpoints[i].Key.AsSpan());
            position[i] = (int)(XxHash3.HashToUInt64(key, seed: 0x6d61676c) % (ulong)size);
            skip[i] = (int)(XxHash3.HashToUInt64(key, seed: 0x65766c31) % (ulong)(size - 1)) + 1;
            max = Math.Max(max, weights[i]);
        }

        var filled = 0;
        for (long iteration = 1; filled < size; iteration++)
        {
            for (var i = 0; i < n && filled < size; i++)
            {
                // An endpoint of the largest weight places one entry per iteration; one of a third of it, every third.
                if (iteration * weights[i] < target[i])
                {
                    continue;
                }

                target[i] += max;
                var c = position[i];
                while (table[c] >= 0)
                {
                    c += skip[i];
                    if (c >= size)
                    {
                        c -= size;
                    }
                }

                table[c] = i;
                c += skip[i];
                position[i] = c >= size ? c - size : c;
                filled++;
            }
        }

        return table;
    }

    private static ulong Mix(ulong x)
    {
        // SplitMix64 finaliser.
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9UL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebUL;
        return x ^ (x >> 31);
    }

    private static int NextPrime(int from)
    {
        for (var candidate = from | 1; ; candidate += 2)
        {
            var prime = true;
            for (var d = 3; (long)d * d <= candidate; d += 2)
            {
                if (candidate % d == 0)
                {
                    prime = false;
                    break;
                }
            }

            if (prime)
            {
                return candidate;
            }
        }
    }
}

/// <summary>
/// Splits traffic between groups of endpoints by a metadata value (canaries): the group comes from an exact
/// smooth-weighted schedule (or from the hash key, so consistent hashing stays sticky), the endpoint from the
/// group's own picker.
/// </summary>
internal sealed class TrafficSplitPicker : EndpointPicker
{
    private readonly EndpointPicker[] _groups;
    private readonly int[] _schedule;
    private int _cursor;

    public TrafficSplitPicker(EndpointState[] endpoints, EndpointPicker[] groups, long[] groupWeights, RandomSource? random = null)
        : base(endpoints)
    {
        _groups = groups;
        _schedule = WeightMath.BuildSchedule(groupWeights);
        _cursor = (random ?? RandomSource.Shared).Next(_schedule.Length);
    }

    public override EndpointState Pick(in PickContext context)
    {
        var slot = context.HasHash
            ? (uint)(context.Hash % (ulong)_schedule.Length)
            : (uint)Interlocked.Increment(ref _cursor) % (uint)_schedule.Length;
        return _groups[_schedule[slot]].Pick(context);
    }
}
