using System.Diagnostics;
using System.Globalization;
using Mesh.Resilience.Internal;

namespace Mesh.Benchmarks.Resilience;

/// <summary>
/// How late a short delay ends: <c>Task.Delay</c> (the timer the standard hedging handler waits its delay on) against
/// the mesh's <see cref="PreciseTimer"/> (the one <c>AddMeshHedging()</c> waits on), for delays of 1, 2 and 4.5 ms, one at
/// a time, in the same run. Lateness is the time after the asked-for delay until the waiting code runs again (a
/// thread-pool continuation in both cases). Each wait starts at a random moment (after a random precise wait of 0–5 ms).
/// </summary>
internal static class TimerLateness
{
    private sealed class Waiter : TaskCompletionSource, IPreciseTimerTarget
    {
        public Waiter() : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
        }

        public void OnDue() => TrySetResult();

        public bool IsDone => Task.IsCompleted;
    }

    public static async Task RunAsync(int samples)
    {
        Console.WriteLine($"Timer lateness, {samples} waits each, load average at start {LoadAverage()}");
        Console.WriteLine("| delay | Task.Delay p50 | p99 | PreciseTimer p50 | p99 |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: |");
        foreach (var delayMs in new[] { 1.0, 2.0, 4.5 })
        {
            var delay = TimeSpan.FromMilliseconds(delayMs);
            var coarse = new List<double>(samples);
            var precise = new List<double>(samples);
            var random = new Random(42);
            for (var i = 0; i < samples; i++)
            {
                // Start each wait at a random moment relative to the kernel's tick, as a request's hedging delay does
                // (back-to-back waits would all start just after a tick).
                await WaitAsync(TimeSpan.FromMilliseconds(random.NextDouble() * 5)).ConfigureAwait(false);
                var start = Stopwatch.GetTimestamp();
                await Task.Delay(delay).ConfigureAwait(false);
                coarse.Add((Stopwatch.GetElapsedTime(start) - delay).TotalMilliseconds);

                await WaitAsync(TimeSpan.FromMilliseconds(random.NextDouble() * 5)).ConfigureAwait(false);
                start = Stopwatch.GetTimestamp();
                await WaitAsync(delay).ConfigureAwait(false);
                precise.Add((Stopwatch.GetElapsedTime(start) - delay).TotalMilliseconds);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {delayMs} ms | {Percentile(coarse, 50):F2} ms | {Percentile(coarse, 99):F2} ms | {Percentile(precise, 50):F2} ms | {Percentile(precise, 99):F2} ms |"));
        }
    }

    private static Task WaitAsync(TimeSpan delay)
    {
        var waiter = new Waiter();
        PreciseTimer.Shared.Schedule(Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency), waiter);
        return waiter.Task;
    }

    private static double Percentile(List<double> values, double p)
    {
        values.Sort();
        return values[Math.Min(values.Count - 1, (int)(values.Count * p / 100))];
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
