using Mesh.LoadBalancing.Internal;

namespace Mesh.Tests.LoadBalancing;

/// <summary>The randomness pickers use (<see cref="RandomSource"/>).</summary>
public sealed class RandomSourceTests
{
    [Fact]
    public void A_seed_gives_the_same_sequence_every_time_and_another_seed_another()
    {
        static double[] Draw(ulong seed)
        {
            var random = RandomSource.Seeded(seed);
            return [.. Enumerable.Range(0, 100).Select(_ => random.NextDouble())];
        }

        Assert.Equal(Draw(42), Draw(42));
        Assert.NotEqual(Draw(42), Draw(43));
    }

    [Fact]
    public void Seeded_values_are_uniform_in_their_range()
    {
        var random = RandomSource.Seeded(1);
        var counts = new int[7];
        for (var i = 0; i < 70_000; i++)
        {
            counts[random.Next(7)]++;
        }

        var doubles = Enumerable.Range(0, 10_000).Select(_ => random.NextDouble()).ToArray();

        Assert.All(counts, c => Assert.InRange(c, 9_600, 10_400));
        Assert.All(doubles, d => Assert.InRange(d, 0.0, 0.9999999999));
        Assert.InRange(doubles.Average(), 0.49, 0.51);
    }

    [Fact]
    public void A_seeded_source_shared_by_threads_hands_out_each_value_of_its_sequence_exactly_once()
    {
        var shared = RandomSource.Seeded(7);
        var drawn = new System.Collections.Concurrent.ConcurrentBag<double>();

        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                drawn.Add(shared.NextDouble());
            }
        });

        var alone = RandomSource.Seeded(7);
        var expected = Enumerable.Range(0, 40_000).Select(_ => alone.NextDouble()).Order();
        Assert.Equal(expected, drawn.Order());
    }
}
