using System.Diagnostics;

namespace Mesh.Testing;

/// <summary>
/// Traffic running in the background (from <see cref="TrafficDriver.Start"/>): watch it through <see cref="Recorder"/>,
/// end it with <see cref="StopAsync"/>, or wait for it to end by itself with <see cref="Completion"/>.
/// </summary>
/// <remarks>
/// Two ways to end early: <see cref="StopAsync"/> stops sending and lets the requests in flight finish and count (up to
/// <see cref="TrafficOptions.StopTimeout"/>); cancelling the token given to <see cref="TrafficDriver.Start"/> or
/// disposing the run aborts, cancelling the requests in flight, which then count neither as successes nor as failures.
/// </remarks>
public sealed class TrafficRun : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly TrafficOptions _options;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan _limit;
    private readonly CancellationTokenSource _abort;
    private readonly CancellationTokenSource _stopSending;
    private long _tickets;
    private int _disposed;

    internal TrafficRun(HttpClient client, TrafficOptions options, TrafficRecorder recorder, CancellationToken cancellationToken)
    {
        _client = client;
        _options = options;
        Recorder = recorder;
        _limit = options.Duration is { } d && d < options.MaxDuration ? d : options.MaxDuration;
        _abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _abort.CancelAfter(_limit);
        _stopSending = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
        Completion = RunAsync();
    }

    /// <summary>Where the outcomes go: running totals (<see cref="TrafficRecorder.Succeeded"/>,
    /// <see cref="TrafficRecorder.Failed"/>, <see cref="TrafficRecorder.CountOf"/>) and windows for live views.</summary>
    public TrafficRecorder Recorder { get; }

    /// <summary>Completes with the report when the run has ended, however it ended.</summary>
    public Task<TrafficReport> Completion { get; }

    /// <summary>Stops sending, lets the requests in flight finish (up to <see cref="TrafficOptions.StopTimeout"/>, then
    /// cancels them) and returns the report. Safe to call more than once and after the run ended by itself.</summary>
    /// <returns>The report.</returns>
    public Task<TrafficReport> StopAsync()
    {
        if (Volatile.Read(ref _disposed) == 0 && !Completion.IsCompleted)
        {
            try
            {
                _stopSending.Cancel();
                var remaining = _limit - _clock.Elapsed;
                if (_options.StopTimeout < remaining)
                {
                    _abort.CancelAfter(_options.StopTimeout);
                }
            }
            catch (ObjectDisposedException)
            {
                // Disposed concurrently: the run is aborted, and Completion says so.
            }
        }

        return Completion;
    }

    /// <summary>Aborts the run if it is still going (cancelling the requests in flight) and releases its resources.</summary>
    /// <returns>A task that completes when the workers have ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _abort.CancelAsync().ConfigureAwait(false);
        await ((Task)Completion).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopSending.Dispose();
        _abort.Dispose();
    }

    private async Task<TrafficReport> RunAsync()
    {
        var workers = new Task[_options.Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(WorkerAsync, CancellationToken.None);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return Recorder.CreateReport(_clock.Elapsed);
    }

    private async Task WorkerAsync()
    {
        var maxCount = _options.RequestCount ?? long.MaxValue;
        var interval = _options.RequestsPerSecond is { } rate ? TimeSpan.FromSeconds(1 / rate) : TimeSpan.Zero;
        var stopping = _stopSending.Token;
        while (!stopping.IsCancellationRequested)
        {
            var ticket = Interlocked.Increment(ref _tickets);
            if (ticket > maxCount)
            {
                return;
            }

            if (interval > TimeSpan.Zero)
            {
                var due = interval * (ticket - 1) - _clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, stopping).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }

            await SendOneAsync(_abort.Token).ConfigureAwait(false);
        }
    }

    private async Task SendOneAsync(CancellationToken aborting)
    {
        using var request = _options.CreateRequest();
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, aborting).ConfigureAwait(false);
            var replica = _options.IdentifyReplica(response);
            if (_options.IsSuccess(response))
            {
                Recorder.RecordSuccess(replica, Stopwatch.GetElapsedTime(started));
            }
            else
            {
                Recorder.RecordFailure(replica, response.StatusCode, response.ReasonPhrase);
            }
        }
        catch (OperationCanceledException) when (aborting.IsCancellationRequested)
        {
            // The run was aborted while this request was in flight: neither a success nor a failure.
        }
        catch (Exception ex)
        {
            Recorder.RecordFailure(null, ex);
        }
    }
}
