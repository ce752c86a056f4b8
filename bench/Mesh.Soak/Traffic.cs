using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace Mesh.Soak;

/// <summary>What happened during one phase of a run (between two chaos events).</summary>
internal sealed class PhaseStats(string name, TimeSpan startedAt)
{
    private long _sent;
    private long _ok;
    private long _failed;
    private long _skipped;

    public string Name { get; } = name;

    public TimeSpan StartedAt { get; } = startedAt;

    public TimeSpan EndedAt { get; set; }

    public LongConcurrentHistogram Latency { get; } = new(1, 120_000_000, 3);

    public ConcurrentDictionary<string, int> Failures { get; } = new(StringComparer.Ordinal);

    public long Sent => Interlocked.Read(ref _sent);

    public long Ok => Interlocked.Read(ref _ok);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Requests not sent because the client already had its maximum in flight (the load generator saturated).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public void OnSent() => Interlocked.Increment(ref _sent);

    public void OnSkipped() => Interlocked.Increment(ref _skipped);

    public void OnOk(long microseconds)
    {
        Interlocked.Increment(ref _ok);
        Latency.RecordValue(Math.Clamp(microseconds, 1, 120_000_000));
    }

    public void OnFailed(string reason)
    {
        Interlocked.Increment(ref _failed);
        Failures.AddOrUpdate(reason, 1, static (_, n) => n + 1);
    }
}

/// <summary>
/// Open-loop load: requests start at a fixed rate whatever the latency (so slow phases show as queueing, not as a lower
/// rate), with a cap on requests in flight. Each result is counted in the phase that was current when it started.
/// </summary>
internal sealed class TrafficLoop(HttpClient client, double requestsPerSecond, int maxInFlight)
{
    private readonly SemaphoreSlim _inFlight = new(maxInFlight, maxInFlight);
    private volatile PhaseStats? _phase;
    private long _sent;
    private long _failed;

    /// <summary>Requests sent so far, all phases.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Requests failed so far, all phases.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Requests in flight now.</summary>
    public int InFlight => maxInFlight - _inFlight.CurrentCount;

    public PhaseStats Phase { set => _phase = value; }

    public async Task RunAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var started = 0L;
        var tasks = new ConcurrentDictionary<Task, byte>();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var due = (long)(clock.Elapsed.TotalSeconds * requestsPerSecond);
                for (; started < due; started++)
                {
                    var phase = _phase!;
                    if (!_inFlight.Wait(0))
                    {
                        phase.OnSkipped();
                        continue;
                    }

                    phase.OnSent();
                    Interlocked.Increment(ref _sent);
                    var task = SendOneAsync(phase);
                    tasks.TryAdd(task, 0);
                    _ = task.ContinueWith(t => tasks.TryRemove(t, out _), TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        await Task.WhenAll(tasks.Keys).WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task SendOneAsync(PhaseStats phase)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.GetAsync("/items", HttpCompletionOption.ResponseContentRead);
            if (response.IsSuccessStatusCode)
            {
                phase.OnOk((long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                phase.OnFailed($"HTTP {(int)response.StatusCode}");
            }
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            phase.OnFailed(ex.GetType().Name + ": " + Truncate(ex.Message));
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private static string Truncate(string text) => text.Length <= 160 ? text : text[..160] + "...";
}
