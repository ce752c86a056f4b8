using Mesh.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace Mesh.Tests.Resilience;

/// <summary>
/// Refusals by the retry budget are logged at most once a second per service, with their number: under overload they
/// come by the hundred per second (the 10-minute soak logged 300 lines a second, one per refusal, while the storm that
/// caused them lasted). Real replicas failing every request, the standard resilience handler retrying.
/// </summary>
public sealed class RetryBudgetLogTests
{
    [Fact]
    public async Task A_burst_of_refused_retries_is_logged_once_with_the_number_refused()
    {
        await using var host = await MeshTestHost.StartAsync(2, new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:RetryBudget:RetryRatio"] = "0",
            ["Mesh:Services:catalog:RetryBudget:MinRetriesPerSecond"] = "0",
            ["Mesh:Services:catalog:OutlierDetection:ConsecutiveFailures"] = "0",
        }, client => client.AddStandardResilienceHandler(o =>
        {
            o.Retry.Delay = TimeSpan.Zero;
            o.CircuitBreaker.MinimumThroughput = 100_000;
        }));
        foreach (var replica in host.Replicas)
        {
            replica.Behavior.ErrorRate = 1; // every answer a 500: every request wants a retry, the budget allows none
        }

        var (_, failures) = await host.SendAsync(40);

        Assert.Equal(40, failures.Count);
        Assert.All(failures, f => Assert.StartsWith(nameof(MeshRetryBudgetExceededException), f, StringComparison.Ordinal));
        var lines = host.Logs.GetSnapshot().Where(r => r.Id.Name == "RetryBudgetExhausted").ToList();
        Assert.InRange(lines.Count, 1, 3); // 40 refusals within a second or three: one line a second, not 40
        Assert.Equal("1", lines[0].GetStructuredStateValue("Refused")); // the first refusal is reported at once
        Assert.Contains("retries refused since the last report", lines[0].Message, StringComparison.Ordinal);
    }
}
