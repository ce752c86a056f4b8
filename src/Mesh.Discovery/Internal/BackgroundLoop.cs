namespace Mesh.Discovery.Internal;

/// <summary>A background task with its cancellation, stopped and awaited on dispose.</summary>
internal sealed class BackgroundLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _task;
    private int _disposed;

    public BackgroundLoop(Func<CancellationToken, Task> run)
    {
        var token = _cts.Token;
        _task = Task.Run(() => run(token), CancellationToken.None);
    }

    public Task Completion => _task;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _cts.CancelAsync().ConfigureAwait(false);
        try
        {
            await _task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
        finally
        {
            _cts.Dispose();
        }
    }
}
