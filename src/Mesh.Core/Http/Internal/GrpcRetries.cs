using Mesh.Services.Internal;
using Mesh.LoadBalancing.Internal;

namespace Mesh.Http.Internal;

/// <summary>
/// The attempts of gRPC's own retries and hedging (a <c>RetryPolicy</c> or <c>HedgingPolicy</c> in a channel's service
/// config). grpc-dotnet (<c>Grpc.Net.Client/Internal/Retry/RetryCall.cs</c>, <c>HedgingCall.cs</c>) makes every attempt a
/// call of its own: a new <see cref="HttpRequestMessage"/> with new content, sent with the token of the attempt's own
/// <see cref="CancellationTokenSource"/>, with nothing in <see cref="HttpRequestMessage.Options"/> and no activity or
/// header shared by the attempts of one call only. The one mark is <c>grpc-previous-rpc-attempts: n</c> on every attempt
/// but the first (gRFC A6). So a handler can tell that an attempt is a retry, not which call it retries or which endpoint
/// failed that call. And a call is retried only before it commits: after a trailers-only failure or a failure to
/// connect, never once response headers arrived — so the failure of the previous attempt was recorded on its endpoint
/// (in the handler, before the response was handed back) before the retry starts.
/// <para>What the mesh does with that: an attempt marked as a retry is charged to the retry budget, and avoids the
/// endpoints whose latest counted outcome was a failure (a consecutive-failure streak). That is the previous attempt's
/// endpoint as long as no call succeeded there in between: always for an endpoint that is down or fails everything,
/// not always for one that fails intermittently. A hedged attempt is sent while the earlier ones still run, so there is
/// nothing to avoid yet; it is balanced like any request (a busy endpoint costs more to LeastRequest and PeakEwma).</para>
/// </summary>
internal static class GrpcRetries
{
    /// <summary>The endpoints a gRPC retry attempt avoids: those on a streak of counted failures, or <see langword="null"/>
    /// when there are none. Allocates only when some endpoint is failing, for retry attempts only (a small set,
    /// bounded by the retry budget); when every endpoint is failing, the selector reuses one, still balanced.</summary>
    public static TriedEndpoints? EndpointsToAvoid(ServiceRuntime service)
    {
        TriedEndpoints? failing = null;
        foreach (var endpoint in service.Endpoints)
        {
            if (Volatile.Read(ref endpoint.Outlier.ConsecutiveFailures) > 0)
            {
                (failing ??= new TriedEndpoints()).Add(endpoint);
            }
        }

        return failing;
    }
}
