using Mesh.Services.Internal;
using Polly;
using Polly.Hedging;

namespace Mesh.Resilience.Internal;

/// <summary>
/// The hedging delay of <c>AddMeshHedging()</c>: for the service a request goes to, the <c>Hedging:DelayPercentile</c>th
/// percentile of its recent attempts, within <c>MinDelay</c> and <c>MaxDelay</c> (see
/// <see cref="ServiceRuntime.HedgingDelay"/>); no hedge but on failure once the hedge budget is spent.
/// </summary>
internal static class MeshHedgingDelay
{
    /// <summary>The <see cref="AppContext"/> switch that leaves the delay to the hedging handler's own timer (.NET's, which
    /// fires on the kernel's tick) instead of the <see cref="PreciseTimer"/>: for comparing the two, or if the precise
    /// timer's thread is not wanted.</summary>
    public const string UseSystemTimerSwitch = "Mesh.Hedging.UseSystemTimer";

    /// <summary>The delay used when the request's service is not known (yet): the standard hedging handler's default.</summary>
    public static readonly TimeSpan Fallback = TimeSpan.FromSeconds(2);

    public static Func<HedgingDelayGeneratorArguments, ValueTask<TimeSpan>> Create(MeshRegistry registry, string? pinnedService) => args =>
    {
        var request = args.Context.GetRequestMessage();
        var scope = request is not null && request.Options.TryGetValue(RequestScope.Key, out var found) ? found : null;
        var service = scope?.Service;
        if (service is null)
        {
            // The first attempt has not reached the mesh yet: find the service by name, as the mesh handler will.
            var name = pinnedService ?? request?.RequestUri?.IdnHost;
            if (name is null || !registry.TryGetService(name, out service))
            {
                return new ValueTask<TimeSpan>(Fallback);
            }
        }

        scope?.Client?.Set();
        var delay = service.HedgingDelay();
        if (scope is null || delay <= TimeSpan.Zero || delay == Timeout.InfiniteTimeSpan || !ReferenceEquals(service.Environment.Time, TimeProvider.System)
            || (AppContext.TryGetSwitch(UseSystemTimerSwitch, out var useSystemTimer) && useSystemTimer))
        {
            return new ValueTask<TimeSpan>(delay);
        }

        return WaitAsync(scope, delay, args.Context.CancellationToken);
    };

    /// <summary>Waits out the delay on the <see cref="PreciseTimer"/> instead of leaving it to the hedging handler, whose
    /// timer fires milliseconds late on Linux (the kernel's tick): returns zero when the delay is over (the handler
    /// sends the hedge at once) and, when an attempt of the request ended first, an infinite delay: the handler then
    /// waits for that attempt's outcome (microseconds behind the end the mesh recorded) without arming a timer of its
    /// own, and asks again for the next delay if the outcome is one it hedges on.</summary>
    private static async ValueTask<TimeSpan> WaitAsync(RequestScope scope, TimeSpan delay, CancellationToken cancellationToken)
    {
        var wait = HedgeWait.Start(scope, delay, TimeProvider.System, precise: true, out _);
        bool over;
        using (cancellationToken.UnsafeRegister(static state => ((HedgeWait)state!).OnCancelled(), wait))
        {
            over = await wait.Task.ConfigureAwait(false);
        }

        if (over)
        {
            return TimeSpan.Zero;
        }

        scope.StopWatching(wait);
        return Timeout.InfiniteTimeSpan;
    }
}
