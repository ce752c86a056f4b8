using Mesh.Endpoints.Internal;

namespace Mesh.LoadBalancing.Internal;

/// <summary>The endpoints the attempts of one request have used, so later attempts avoid them. Thread-safe: attempts
/// of one request may run at the same time (hedging). Lock-free reads; adds take a private lock.</summary>
internal sealed class TriedEndpoints
{
    private readonly Lock _gate = new();
    private EndpointState?[] _items = new EndpointState?[4];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool Contains(EndpointState endpoint)
    {
        var items = Volatile.Read(ref _items);
        var count = Math.Min(Volatile.Read(ref _count), items.Length);
        for (var i = 0; i < count; i++)
        {
            if (ReferenceEquals(items[i], endpoint))
            {
                return true;
            }
        }

        return false;
    }

    public void Add(EndpointState endpoint)
    {
        lock (_gate)
        {
            if (Contains(endpoint))
            {
                return;
            }

            var items = _items;
            if (_count == items.Length)
            {
                Array.Resize(ref items, items.Length * 2);
                Volatile.Write(ref _items, items);
            }

            items[_count] = endpoint;
            Volatile.Write(ref _count, _count + 1);
        }
    }
}
