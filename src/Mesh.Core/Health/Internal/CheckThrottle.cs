namespace Mesh.Health.Internal;

/// <summary>Bounds concurrent active health checks across services; resizable on reload (each check releases the
/// semaphore it waited on, so a resize never unbalances one).</summary>
internal sealed class CheckThrottle(int limit)
{
    private SemaphoreSlim _current = new(limit);
    private int _limit = limit;

    public SemaphoreSlim Current => Volatile.Read(ref _current);

    public void Resize(int limit)
    {
        if (limit != _limit)
        {
            _limit = limit;
            Volatile.Write(ref _current, new SemaphoreSlim(limit)); // the old one is left to finish and be collected
        }
    }
}
