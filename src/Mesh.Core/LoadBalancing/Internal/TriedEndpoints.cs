using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>The endpoints the attempts of one request have used, so later attempts avoid them. Thread-safe and lock-free:
/// attempts of one request may run at the same time (hedging). The first endpoint is kept in a field, so a request with
/// one attempt allocates nothing; later ones go to a copy-on-write array (an attempt is rare enough for that).</summary>
internal sealed class TriedEndpoints
{
    private EndpointState? _first;
    private EndpointState[]? _more;

    /// <summary>How many endpoints were added.</summary>
    public int Count => (Volatile.Read(ref _first) is null ? 0 : 1) + (Volatile.Read(ref _more)?.Length ?? 0);

    public bool Contains(EndpointState endpoint)
    {
        if (ReferenceEquals(Volatile.Read(ref _first), endpoint))
        {
            return true;
        }

        var more = Volatile.Read(ref _more);
        if (more is null)
        {
            return false;
        }

        foreach (var e in more)
        {
            if (ReferenceEquals(e, endpoint))
            {
                return true;
            }
        }

        return false;
    }

    public void Add(EndpointState endpoint)
    {
        if (Interlocked.CompareExchange(ref _first, endpoint, null) is null || Contains(endpoint))
        {
            return;
        }

        while (true)
        {
            var more = Volatile.Read(ref _more);
            if (more is not null && Array.IndexOf(more, endpoint) >= 0)
            {
                return;
            }

            EndpointState[] next = more is null ? [endpoint] : [.. more, endpoint];
            if (ReferenceEquals(Interlocked.CompareExchange(ref _more, next, more), more))
            {
                return;
            }
        }
    }
}
