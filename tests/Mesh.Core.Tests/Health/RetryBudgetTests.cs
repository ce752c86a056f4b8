using Mesh.Resilience.Internal;
using Mesh.Health.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Health;

public sealed class RetryBudgetTests
{
    private readonly FakeTimeProvider _time = new();

    private RetryBudget Budget(double ratio = 0.2, int floor = 1) =>
        new(new RetryBudgetOptions { RetryRatio = ratio, MinRetriesPerSecond = floor, Window = TimeSpan.FromSeconds(10) }, _time.TimestampFrequency);

    [Fact]
    public void Retries_are_capped_at_the_ratio_of_requests_plus_the_floor()
    {
        var budget = Budget(ratio: 0.2, floor: 1);
        for (var i = 0; i < 100; i++)
        {
            budget.OnRequest(_time.GetTimestamp());
        }

        var allowed = Enumerable.Range(0, 100).Count(_ => budget.TryRetry(_time.GetTimestamp()));

        Assert.Equal(30, allowed); // 20% of 100 + 1/s over 10 s
    }

    [Fact]
    public void The_budget_refills_as_the_window_slides()
    {
        var budget = Budget(ratio: 0, floor: 1);
        Assert.Equal(10, Enumerable.Range(0, 50).Count(_ => budget.TryRetry(_time.GetTimestamp())));

        _time.Advance(TimeSpan.FromSeconds(11));

        Assert.True(budget.TryRetry(_time.GetTimestamp()));
    }

    [Fact]
    public void A_negative_ratio_turns_the_budget_off()
    {
        var budget = Budget(ratio: -1, floor: 0);

        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(budget.TryRetry(_time.GetTimestamp())));
    }

    [Fact]
    public void Refusals_are_logged_at_most_once_a_second_with_the_number_refused_since_the_last_line()
    {
        var budget = Budget();

        // A storm: a refusal every 3 ms for 1.8 s. The first is reported at once; then one line after a second.
        var reported = new List<long> { budget.RefusalsToLog(_time.GetTimestamp()) };
        for (var i = 0; i < 599; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(3));
            reported.Add(budget.RefusalsToLog(_time.GetTimestamp()));
        }

        Assert.Equal([1, 334], reported.Where(n => n > 0)); // t = 0 and t = 1.002 s (refusals from 3 ms to 1.002 s)

        // The refusals since the last line are not lost: the next line, a second later, carries them.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(600 - 1 - 334 + 1, budget.RefusalsToLog(_time.GetTimestamp()));
    }
}
