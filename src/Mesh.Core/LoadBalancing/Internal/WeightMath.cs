namespace Mesh.LoadBalancing.Internal;

/// <summary>Weight helpers shared by the pickers: equality checks, alias tables and exact schedules.</summary>
internal static class WeightMath
{
    /// <summary>The longest precomputed schedule; larger weight sums are scaled down first.</summary>
    public const int MaxScheduleLength = 1 << 20;

    public static bool AllEqual(double[] weights)
    {
        for (var i = 1; i < weights.Length; i++)
        {
            if (weights[i] != weights[0])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Builds the earliest-deadline-first sequence (Envoy's EDF scheduler, with exact rational deadlines): endpoint i
    /// appears weights[i] times per cycle of sum(weights), smoothly interleaved. Any window whose length is a multiple
    /// of the cycle therefore holds exactly the weight proportions. Weights are reduced by their GCD and, if the cycle
    /// would exceed <see cref="MaxScheduleLength"/>, scaled down proportionally.
    /// </summary>
    public static int[] BuildSchedule(ReadOnlySpan<long> weights)
    {
        var w = weights.ToArray();
        long gcd = 0;
        foreach (var x in w)
        {
            gcd = Gcd(gcd, x);
        }

        long total = 0;
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = Math.Max(1, w[i] / Math.Max(gcd, 1));
            total += w[i];
        }

        if (total > MaxScheduleLength)
        {
            var scale = (double)MaxScheduleLength / total;
            total = 0;
            for (var i = 0; i < w.Length; i++)
            {
                w[i] = Math.Max(1, (long)(w[i] * scale));
                total += w[i];
            }
        }

        var schedule = new int[total];
        var picked = new long[w.Length];
        var queue = new PriorityQueue<int, Deadline>(w.Length);
        for (var i = 0; i < w.Length; i++)
        {
            queue.Enqueue(i, new Deadline(1, w[i], i));
        }

        for (var s = 0; s < schedule.Length; s++)
        {
            var i = queue.Dequeue();
            schedule[s] = i;
            picked[i]++;
            queue.Enqueue(i, new Deadline(picked[i] + 1, w[i], i));
        }

        return schedule;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    /// <summary>A deadline n / w, compared exactly by cross-multiplication; ties go to the lower index.</summary>
    private readonly record struct Deadline(long N, long W, int Index) : IComparable<Deadline>
    {
        public int CompareTo(Deadline other)
        {
            var c = ((Int128)N * other.W).CompareTo((Int128)other.N * W);
            return c != 0 ? c : Index.CompareTo(other.Index);
        }
    }
}

/// <summary>
/// Vose's alias method (Vose, "A linear algorithm for generating random numbers with a given distribution", 1991):
/// draws index i with probability weights[i] / sum(weights) in O(1), from one uniform random number.
/// </summary>
internal sealed class AliasTable
{
    private readonly double[] _probability;
    private readonly int[] _alias;

    public AliasTable(double[] weights)
    {
        var n = weights.Length;
        _probability = new double[n];
        _alias = new int[n];
        var sum = 0.0;
        foreach (var w in weights)
        {
            sum += w;
        }

        var scaled = new double[n];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (var i = 0; i < n; i++)
        {
            scaled[i] = weights[i] * n / sum;
            (scaled[i] < 1.0 ? small : large).Push(i);
        }

        while (small.Count > 0 && large.Count > 0)
        {
            var s = small.Pop();
            var l = large.Pop();
            _probability[s] = scaled[s];
            _alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1.0;
            (scaled[l] < 1.0 ? small : large).Push(l);
        }

        while (large.Count > 0)
        {
            _probability[large.Pop()] = 1.0;
        }

        while (small.Count > 0)
        {
            _probability[small.Pop()] = 1.0; // rounding leftovers
        }
    }

    /// <summary>The index drawn by <paramref name="uniform"/>, a uniform number in [0, 1).</summary>
    public int Sample(double uniform)
    {
        var n = _probability.Length;
        var r = uniform * n;
        var i = (int)r;
        if (i >= n)
        {
            i = n - 1;
        }

        return r - i < _probability[i] ? i : _alias[i];
    }
}
