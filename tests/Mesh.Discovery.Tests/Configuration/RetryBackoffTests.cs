using Mesh.Discovery.Internal;

namespace Mesh.Discovery.Tests.Configuration;

public sealed class RetryBackoffTests
{
    [Fact]
    public void Delays_double_per_failure_with_jitter_and_stop_at_the_maximum()
    {
        var backoff = new RetryBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(backoff.Delay(1).TotalMilliseconds, 50, 100);
            Assert.InRange(backoff.Delay(3).TotalMilliseconds, 200, 400);
            Assert.InRange(backoff.Delay(60).TotalMilliseconds, 500, 1000);
        }

        var spread = Enumerable.Range(0, 50).Select(_ => backoff.Delay(2)).Distinct().Count();
        Assert.True(spread > 10, "delays are jittered");
    }
}
