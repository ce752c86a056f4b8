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
    /// <summary>The delay used when the request's service is not known (yet): the standard hedging handler's default.</summary>
    public static readonly TimeSpan Fallback = TimeSpan.FromSeconds(2);

    public static Func<HedgingDelayGeneratorArguments, ValueTask<TimeSpan>> Create(MeshRegistry registry, string? pinnedService) => args =>
    {
        var request = args.Context.GetRequestMessage();
        var service = request is not null && request.Options.TryGetValue(RequestScope.Key, out var scope) ? scope.Service : null;
        if (service is null)
        {
            // The first attempt has not reached the mesh yet: find the service by name, as the mesh handler will.
            var name = pinnedService ?? request?.RequestUri?.IdnHost;
            if (name is null || !registry.TryGetService(name, out service))
            {
                return new ValueTask<TimeSpan>(Fallback);
            }
        }

        return new ValueTask<TimeSpan>(service.HedgingDelay());
    };
}
