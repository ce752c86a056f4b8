namespace Mesh.Resilience.Internal;

/// <summary>
/// Whether an HttpClient hedges its requests — <c>AddMeshHedging()</c> or the standard hedging handler's
/// <c>AddMeshHandler()</c> say so when the client is registered; any other client once one of its requests had two
/// attempts in flight at once. One per client name, shared by its scopes (<see cref="RequestScope.Client"/>): the
/// attempts of a hedging client can outlive a lost hedge (<see cref="Http.Internal.DrainableAttempt"/>), which costs a
/// few objects per attempt that the other clients of the same service do not pay.
/// </summary>
internal sealed class ClientHedgingFlag(bool hedges)
{
    private volatile bool _hedges = hedges;

    /// <summary>Whether the client hedges.</summary>
    public bool Hedges => _hedges;

    /// <summary>Marks the client as one that hedges.</summary>
    public void Set()
    {
        if (!_hedges)
        {
            _hedges = true;
        }
    }
}
