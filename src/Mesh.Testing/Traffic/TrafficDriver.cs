namespace Mesh.Testing;

/// <summary>
/// Sends requests through any <see cref="HttpClient"/> — at a rate or as fast as possible, for a duration, a count or
/// until stopped — and reports per-replica counts, failures with their status or exception, and latency percentiles.
/// </summary>
public static class TrafficDriver
{
    /// <summary>Runs traffic and returns the report.</summary>
    /// <param name="client">The client (for example one with <c>AddMeshHandler()</c>).</param>
    /// <param name="options">What to send and for how long (a <see cref="TrafficOptions.Duration"/>, a
    /// <see cref="TrafficOptions.RequestCount"/> or both).</param>
    /// <param name="cancellationToken">Stops the run early and cancels the requests in flight; the report covers what was sent.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The options are invalid or would never end the run.</exception>
    public static Task<TrafficReport> RunAsync(HttpClient client, TrafficOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(client, options, new TrafficRecorder(), cancellationToken);

    /// <summary>Runs traffic into a recorder that a live view can poll, and returns the report.</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">What to send and for how long (a duration, a count or both).</param>
    /// <param name="recorder">Where outcomes go.</param>
    /// <param name="cancellationToken">Stops the run early and cancels the requests in flight.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The options are invalid or would never end the run.</exception>
    public static async Task<TrafficReport> RunAsync(HttpClient client, TrafficOptions options, TrafficRecorder recorder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(recorder);
        options.Validate(mustEnd: true);
        await using var run = new TrafficRun(client, options, recorder, cancellationToken);
        return await run.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Starts traffic in the background and returns at once, for tests that break something while traffic flows:
    /// start, act, then <see cref="TrafficRun.StopAsync"/> (which lets the requests in flight finish, so none escapes
    /// the report) and assert on the report. The run also ends by itself at <see cref="TrafficOptions.Duration"/>,
    /// <see cref="TrafficOptions.RequestCount"/> or <see cref="TrafficOptions.MaxDuration"/>, whichever comes first.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="options">What to send; <see cref="TrafficOptions.Duration"/> and <see cref="TrafficOptions.RequestCount"/> are optional here.</param>
    /// <param name="recorder">Where outcomes go (default: a new recorder, see <see cref="TrafficRun.Recorder"/>).</param>
    /// <param name="cancellationToken">Aborts the run and cancels the requests in flight.</param>
    /// <returns>The running traffic; dispose it (<c>await using</c>) to abort it if the test ends early.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static TrafficRun Start(HttpClient client, TrafficOptions options, TrafficRecorder? recorder = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(mustEnd: false);
        return new TrafficRun(client, options, recorder ?? new TrafficRecorder(), cancellationToken);
    }
}
