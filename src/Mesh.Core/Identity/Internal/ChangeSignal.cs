using Microsoft.Extensions.Primitives;

namespace Mesh.Identity.Internal;

/// <summary>Hands out change tokens and fires them all at once when the identity is replaced.</summary>
internal sealed class ChangeSignal
{
    private CancellationTokenSource _source = new();

    public IChangeToken GetToken() => new CancellationChangeToken(Volatile.Read(ref _source).Token);

    public void Fire()
    {
        // The old source is not disposed: tokens handed out earlier may still register callbacks on it.
        var previous = Interlocked.Exchange(ref _source, new CancellationTokenSource());
        previous.Cancel();
    }
}
