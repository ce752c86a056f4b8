using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.LoadBench;

/// <summary>
/// Network-like latency in the bench's replica processes (<c>serve</c> mode): every answer (control requests excepted)
/// waits a base delay plus an exponentially distributed jitter — a shifted exponential, the textbook model of a round
/// trip (propagation and a fixed service time) plus queueing — before the test replica handles it. Two control commands
/// next to the test replica's own set it: <c>POST /control/network-latency?value=2</c> (the base, ms) and
/// <c>POST /control/network-jitter?value=0.5</c> (the jitter's mean, ms); 0 turns each off (the default, so other
/// scenarios see no change). The replica's <c>reset</c> leaves them alone: it clears injected trouble, not the network.
/// The injected trouble (<c>latency</c>, <c>latency-rate</c>, ...) comes on top.
/// </summary>
/// <remarks>
/// The waits are slept with <c>nanosleep</c> on dedicated threads (on Linux): .NET timers (<c>Task.Delay</c>) follow the
/// kernel's coarse clock (CLOCK_MONOTONIC_COARSE, 4 ms steps at HZ=250 on the CI machine), which would turn "2 ms plus
/// jitter" into a mix of about 2 and 4 ms. A sleep is about 0.05–0.1 ms late (timer slack, wake-up); the all-healthy
/// run measures what the client sees. With more answers waiting at once than <see cref="Sleepers"/>, the excess waits
/// for a free sleeper (the load bench keeps far fewer in flight per replica).
/// </remarks>
internal sealed partial class NetworkLatency
{
    /// <summary>Threads that sleep the waits, started with the first non-zero base or jitter.</summary>
    public const int Sleepers = 32;

    private readonly BlockingCollection<(long Due, TaskCompletionSource Done)> _waits = [];
    private readonly Lock _gate = new();
    private long _baseTicks;
    private long _jitterMeanTicks;
    private bool _started;

    /// <summary>Adds the control commands and the delay to a replica's app (<c>InProcessReplicaOptions.ConfigureApp</c>).</summary>
    public void Install(WebApplication app)
    {
        app.MapPost("/control/network-latency", context => Control(context, ms => Interlocked.Exchange(ref _baseTicks, ms)));
        app.MapPost("/control/network-jitter", context => Control(context, ms => Interlocked.Exchange(ref _jitterMeanTicks, ms)));
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/control", StringComparison.Ordinal) && Next() is { } wait)
            {
                await WaitAsync(wait, context.RequestAborted);
            }

            await next(context);
        });
    }

    /// <summary>The next wait: the base plus an exponential sample of the jitter's mean; null when both are 0.</summary>
    private TimeSpan? Next()
    {
        var baseTicks = Interlocked.Read(ref _baseTicks);
        var jitterMean = Interlocked.Read(ref _jitterMeanTicks);
        if (baseTicks == 0 && jitterMean == 0)
        {
            return null;
        }

        // Inverse transform: -mean · ln(1 - U), U uniform in [0, 1).
        var jitter = jitterMean == 0 ? 0 : (long)(-jitterMean * Math.Log(1 - Random.Shared.NextDouble()));
        return TimeSpan.FromTicks(baseTicks + jitter);
    }

    private async Task WaitAsync(TimeSpan wait, CancellationToken aborted)
    {
        if (!OperatingSystem.IsLinux())
        {
            await Task.Delay(wait, aborted); // coarse, but the bench's figures come from Linux
            return;
        }

        EnsureStarted();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waits.Add((Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency), done), aborted);
        await done.Task.WaitAsync(aborted);
    }

    private void EnsureStarted()
    {
        lock (_gate)
        {
            if (_started)
            {
                return;
            }

            _started = true;
            for (var i = 0; i < Sleepers; i++)
            {
                new Thread(Sleep, maxStackSize: 256 * 1024) { IsBackground = true, Name = $"network latency {i}" }.Start();
            }
        }
    }

    /// <summary>Blocks the calling thread until <paramref name="due"/> (a <see cref="Stopwatch"/> timestamp): with
    /// nanosleep on Linux (about 0.05–0.1 ms late), else with <see cref="Thread.Sleep(TimeSpan)"/> (whole ms).</summary>
    public static void SleepUntil(long due)
    {
        for (var i = 0; i < 1_000; i++) // nanosleep returns early only on a signal (EINTR): sleep the rest
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            if (!OperatingSystem.IsLinux())
            {
                Thread.Sleep(Stopwatch.GetElapsedTime(0, remaining));
                continue;
            }

            var nanoseconds = (long)(remaining * (1e9 / Stopwatch.Frequency));
            var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            _ = NanoSleep(in request, IntPtr.Zero);
        }
    }

    private void Sleep()
    {
        foreach (var (due, done) in _waits.GetConsumingEnumerable())
        {
            SleepUntil(due);
            done.TrySetResult();
        }
    }

    private static Task Control(HttpContext context, Action<long> apply)
    {
        var value = context.Request.Query["value"].ToString();
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms is >= 0 and <= 60_000)
        {
            apply(TimeSpan.FromMilliseconds(ms).Ticks);
            context.Response.StatusCode = 204;
        }
        else
        {
            context.Response.StatusCode = 400;
        }

        return Task.CompletedTask;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep", SetLastError = true)]
    private static partial int NanoSleep(in Timespec request, IntPtr remaining);
}
