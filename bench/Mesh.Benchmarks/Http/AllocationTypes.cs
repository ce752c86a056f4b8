using System.Diagnostics.Tracing;

namespace Mesh.Benchmarks.Http;

/// <summary>
/// Which types a request path allocates, from the runtime's sampled allocation events (GCAllocationTick: one event
/// per about 100 KB allocated, naming the type that crossed it), so the bytes per request of each type are estimated
/// in proportion. Compares two cases of <see cref="HandlerOverheadBenchmarks"/> side by side: what the second
/// allocates more of is what to work on. All threads, the in-process replicas' too.
/// </summary>
internal sealed class AllocationTypes : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Dictionary<string, double> _bytes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _on;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_on || !eventData.EventName!.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
        {
            return;
        }

        var type = eventData.Payload[eventData.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToDouble(eventData.Payload[eventData.PayloadNames!.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture);
        lock (_lock)
        {
            _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }
    }

    private async Task<Dictionary<string, double>> MeasureAsync(Func<Task> run, int requests)
    {
        for (var i = 0; i < 500; i++)
        {
            await run();
        }

        lock (_lock)
        {
            _bytes.Clear();
            _on = true;
        }

        for (var i = 0; i < requests; i++)
        {
            await run();
        }

        lock (_lock)
        {
            _on = false;
            return _bytes.ToDictionary(kv => kv.Key, kv => kv.Value / requests, StringComparer.Ordinal);
        }
    }

    public static async Task CompareAsync(string nameA, Func<Task> a, string nameB, Func<Task> b, int requests)
    {
        using var listener = new AllocationTypes();
        var first = await listener.MeasureAsync(a, requests);
        var second = await listener.MeasureAsync(b, requests);
        Console.WriteLine($"Estimated bytes per request by type (sampled), {requests:N0} requests each; sorted by the difference");
        Console.WriteLine($"{"type",-90} {nameA,12} {nameB,12} {"diff",8}");
        foreach (var type in first.Keys.Union(second.Keys).OrderByDescending(t => Math.Abs(second.GetValueOrDefault(t) - first.GetValueOrDefault(t))).Take(25))
        {
            var x = first.GetValueOrDefault(type);
            var y = second.GetValueOrDefault(type);
            Console.WriteLine($"{(type.Length > 90 ? type[..90] : type),-90} {x,12:F0} {y,12:F0} {y - x,8:F0}");
        }

        Console.WriteLine($"{"total",-90} {first.Values.Sum(),12:F0} {second.Values.Sum(),12:F0} {second.Values.Sum() - first.Values.Sum(),8:F0}");
    }
}
