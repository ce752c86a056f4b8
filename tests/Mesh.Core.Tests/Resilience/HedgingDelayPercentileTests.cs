using Mesh.Services.Internal;

namespace Mesh.Tests.Resilience;

/// <summary>The percentile the mesh-aware hedging delay is taken at: the configured one, raised so that the delay by
/// itself aims at no more than half the hedge budget.</summary>
public sealed class HedgingDelayPercentileTests
{
    [Theory]
    [InlineData(95, 0.05, 97.5)]   // the defaults: the healthy tail would spend the whole 5% budget at the 95th
    [InlineData(99, 0.05, 99)]     // a higher percentile is kept
    [InlineData(95, 0.10, 95)]     // a budget twice the percentile's rate leaves it alone
    [InlineData(90, 0.50, 90)]
    [InlineData(50, 0.01, 99.5)]
    [InlineData(95, 0, 99.9)]      // no budget: the highest percentile allowed
    public void The_delay_percentile_keeps_the_hedges_it_triggers_within_half_the_budget(double configured, double budgetRatio, double expected)
    {
        Assert.Equal(expected, HedgingSettings.EffectivePercentileFor(configured, budgetRatio), precision: 9);
        Assert.True(100 - HedgingSettings.EffectivePercentileFor(configured, budgetRatio) <= Math.Max(50 * budgetRatio, 0.1) + 1e-9);
    }
}
