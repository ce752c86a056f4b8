namespace Mesh.Discovery.Internal;

/// <summary>Exponential backoff with jitter: attempt n waits a random time between half and all of
/// min(max, base * 2^(n-1)) ("equal jitter"), so that many clients that failed together do not retry together.</summary>
internal readonly record struct RetryBackoff(TimeSpan Base, TimeSpan Max)
{
    public TimeSpan Delay(int attempt)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ceiling = Math.Min(Max.TotalMilliseconds, Base.TotalMilliseconds * Math.Pow(2, exponent));
        var jittered = ceiling * (0.5 + (Random.Shared.NextDouble() * 0.5));
        return TimeSpan.FromMilliseconds(Math.Max(1, jittered));
    }
}
