using System.Diagnostics;

namespace Mesh.Soak;

/// <summary>The client process's resources at one moment.</summary>
internal readonly record struct ResourceSample(TimeSpan At, long WorkingSetBytes, long GcHeapBytes, int Threads, int ThreadPoolThreads, int Sockets, long Timers)
{
    /// <summary>Samples this process now.</summary>
    public static ResourceSample Take(TimeSpan at)
    {
        using var process = Process.GetCurrentProcess();
        return new ResourceSample(at, process.WorkingSet64, GC.GetGCMemoryInfo().HeapSizeBytes, process.Threads.Count, ThreadPool.ThreadCount, CountSockets(), Timer.ActiveCount);
    }

    /// <summary>Open sockets of this process (Linux: /proc/self/fd entries that point at a socket); -1 elsewhere.</summary>
    private static int CountSockets()
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc/self/fd"))
        {
            return -1;
        }

        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
        }

        return count;
    }
}

/// <summary>Samples resources once a second during a run.</summary>
internal sealed class ResourceSampler : IAsyncDisposable
{
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ResourceSampler(Stopwatch clock)
    {
        _clock = clock;
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                do
                {
                    lock (Samples)
                    {
                        Samples.Add(ResourceSample.Take(_clock.Elapsed));
                    }
                }
                while (await timer.WaitForNextTickAsync(_stop.Token));
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public List<ResourceSample> Samples { get; } = [];

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
    }
}
