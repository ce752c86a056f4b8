using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>Round robin: each endpoint in turn, ignoring weights. Endpoints in slow start are skipped with
/// probability 1 - ramp factor, so they ramp up too.</summary>
internal sealed class RoundRobinPicker : EndpointPicker
{
    private readonly double[]? _ramp;
    private readonly RandomSource _random;
    private int _cursor;

    public RoundRobinPicker(EndpointState[] endpoints, double[] weights, RandomSource random)
        : base(endpoints)
    {
        _random = random;
        _cursor = random.Next(int.MaxValue);
        // Weights are only consulted for slow start: the ramp factor is the effective weight over the configured one.
        for (var i = 0; i < endpoints.Length; i++)
        {
            var factor = weights[i] / endpoints[i].Endpoint.Weight;
            if (factor < 1.0)
            {
                _ramp ??= new double[endpoints.Length];
                _ramp[i] = factor;
            }
        }

        if (_ramp is not null)
        {
            for (var i = 0; i < _ramp.Length; i++)
            {
                if (_ramp[i] == 0)
                {
                    _ramp[i] = 1.0;
                }
            }
        }
    }

    public override EndpointState Pick(in PickContext context)
    {
        var endpoints = Endpoints;
        var index = (int)((uint)Interlocked.Increment(ref _cursor) % (uint)endpoints.Length);
        if (_ramp is { } ramp)
        {
            for (var tries = 0; tries < endpoints.Length && ramp[index] < 1.0 && _random.NextDouble() >= ramp[index]; tries++)
            {
                index = (int)((uint)Interlocked.Increment(ref _cursor) % (uint)endpoints.Length);
            }
        }

        return endpoints[index];
    }
}

/// <summary>Smooth weighted round robin from a precomputed EDF schedule: one interlocked increment per pick and
/// exact weight proportions over every cycle of sum(weights) picks.</summary>
internal sealed class WeightedRoundRobinPicker : EndpointPicker
{
    private readonly int[] _schedule;
    private int _cursor;

    public WeightedRoundRobinPicker(EndpointState[] endpoints, double[] weights, RandomSource random)
        : base(endpoints)
    {
        var integral = new long[weights.Length];
        var ramping = false;
        for (var i = 0; i < weights.Length; i++)
        {
            ramping |= weights[i] < endpoints[i].Endpoint.Weight;
        }

        for (var i = 0; i < weights.Length; i++)
        {
            // While some endpoint ramps up, keep two decimals of its fractional weight.
            integral[i] = ramping ? Math.Max(1, (long)Math.Round(weights[i] * 100)) : (long)weights[i];
        }

        _schedule = WeightMath.BuildSchedule(integral);
        _cursor = random.Next(_schedule.Length);
    }

    public override EndpointState Pick(in PickContext context)
    {
        var schedule = _schedule;
        var slot = (uint)Interlocked.Increment(ref _cursor) % (uint)schedule.Length;
        return Endpoints[schedule[slot]];
    }
}

/// <summary>Weighted random (alias method); uniform when all weights are equal.</summary>
internal sealed class RandomPicker : EndpointPicker
{
    private readonly AliasTable? _alias;
    private readonly RandomSource _random;

    public RandomPicker(EndpointState[] endpoints, double[] weights, RandomSource random)
        : base(endpoints)
    {
        _alias = WeightMath.AllEqual(weights) ? null : new AliasTable(weights);
        _random = random;
    }

    public override EndpointState Pick(in PickContext context) =>
        Endpoints[_alias is { } alias ? alias.Sample(_random.NextDouble()) : _random.Next(Endpoints.Length)];
}
