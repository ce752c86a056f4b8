using System.Diagnostics;
using System.Globalization;

namespace Mesh.Containers.Internal;

/// <summary>Identifies a process by id and start time, so that a reused id is not mistaken for a live owner.</summary>
internal static class ProcessIdentity
{
    private static readonly Lazy<(int Pid, long StartTicks)> s_current = new(() =>
    {
        using var self = Process.GetCurrentProcess();
        return (self.Id, StartTicksOf(self));
    });

    public static int CurrentId => s_current.Value.Pid;

    public static long CurrentStartTicks => s_current.Value.StartTicks;

    public static string HostName { get; } = Environment.MachineName;

    /// <summary>Whether the process identified by <paramref name="pid"/> and <paramref name="startTicks"/> still runs on this machine.</summary>
    public static bool IsAlive(int pid, long startTicks)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited)
            {
                return false;
            }

            // Tolerate clock rounding: the start time is derived from boot time and jiffies.
            var start = StartTicksOf(process);
            return startTicks == 0 || Math.Abs(start - startTicks) < TimeSpan.TicksPerSecond;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public static bool TryParse(IDictionary<string, string>? labels, out int pid, out long startTicks)
    {
        pid = 0;
        startTicks = 0;
        return labels is not null &&
            labels.TryGetValue(DockerLabels.ProcessId, out var p) &&
            int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out pid) &&
            (!labels.TryGetValue(DockerLabels.ProcessStart, out var s) || long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out startTicks));
    }

    private static long StartTicksOf(Process process)
    {
        try
        {
            return process.StartTime.ToUniversalTime().Ticks;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return 0;
        }
    }
}
