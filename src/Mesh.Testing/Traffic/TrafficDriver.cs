using System.Diagnostics;

namespace Mesh.Testing;

/// <summary>
/// Sends requests through any <see cref="HttpClient"/> — at a rate or as fast as possible, for a duration or a count —
/// and reports per-replica counts, failures with their reasons and latency percentiles.
/// </summary>
public static class TrafficDriver
{
    /// <summary>Runs traffic and returns the report.</summary>
    /// <param name="client">The client (for example one with <c>AddMeshHandler()</c>).</param>
    /// <param name="options">What to send and for how long.</param>
    /// <param name="cancellationToken">Stops the run early; the report covers what was sent.</param>
    public static Task<TrafficReport> RunAsync(HttpClient client, TrafficOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(client, options, new TrafficRecorder(), cancellationToken);

    /// <summary>Runs traffic into a recorder that a live view can poll, and returns the report.</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">What to send and for how long.</param>
    /// <param name="recorder">Where outcomes go.</param>
    /// <param name="cancellationToken">Stops the run early.</param>
    public static async Task<TrafficReport> RunAsync(HttpClient client, TrafficOptions options, TrafficRecorder recorder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(recorder);
        options.Validate();

        var limit = options.Duration is { } d && d < options.MaxDuration ? d : options.MaxDuration;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(limit);
        var clock = Stopwatch.StartNew();
        long tickets = 0;
        var maxCount = options.RequestCount ?? long.MaxValue;
        var interval = options.RequestsPerSecond is { } rate ? TimeSpan.FromSeconds(1 / rate) : TimeSpan.Zero;

        async Task Worker()
        {
            while (!stop.IsCancellationRequested)
            {
                var ticket = Interlocked.Increment(ref tickets);
                if (ticket > maxCount)
                {
                    return;
                }

                if (interval > TimeSpan.Zero)
                {
                    var due = interval * (ticket - 1) - clock.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        try
                        {
                            await Task.Delay(due, stop.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }
                    }
                }

                await SendOneAsync(client, options, recorder, stop.Token).ConfigureAwait(false);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(Worker, CancellationToken.None))).ConfigureAwait(false);
        return recorder.CreateReport(clock.Elapsed);
    }

    private static async Task SendOneAsync(HttpClient client, TrafficOptions options, TrafficRecorder recorder, CancellationToken stopping)
    {
        using var request = options.CreateRequest();
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, stopping).ConfigureAwait(false);
            var replica = options.IdentifyReplica(response);
            if (options.IsSuccess(response))
            {
                recorder.RecordSuccess(replica, Stopwatch.GetElapsedTime(started));
            }
            else
            {
                recorder.RecordFailure(replica, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The run ended while this request was in flight: neither a success nor a failure.
        }
        catch (Exception ex)
        {
            recorder.RecordFailure(null, $"{ex.GetType().Name}: {ex.Message}");
        }
    }
}
