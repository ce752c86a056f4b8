using System.Globalization;
using System.Text;
using Mesh.Testing;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Mesh.Demo;

/// <summary>The live table (Spectre.Console) and the plain-text summary.</summary>
internal static class LiveView
{
    public static IRenderable Render(TrafficWindow window, MeshServiceSnapshot service, Func<MeshEndpoint, string> nameOf, string phase,
        TrafficRecorder recorder, TimeSpan elapsed, TimeSpan duration, IEnumerable<string> events)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]catalog[/] via AddMeshClient ({service.LoadBalancerName}){(service.PanicMode ? " [red]PANIC MODE[/]" : "")}");
        table.AddColumns("replica", "health", "req/s", "p50 ms", "p99 ms", "share");
        var total = Math.Max(1, window.Replicas.Sum(r => r.Requests));
        foreach (var endpoint in service.Endpoints)
        {
            var name = nameOf(endpoint.Endpoint);
            var traffic = window.Replicas.FirstOrDefault(r => r.Replica == name);
            var requests = traffic?.Requests ?? 0;
            var rate = requests / Math.Max(window.Elapsed.TotalSeconds, 0.001);
            var share = (double)requests / total;
            var color = endpoint.Health switch
            {
                MeshEndpointHealth.Healthy => "green",
                MeshEndpointHealth.SlowStart or MeshEndpointHealth.Probing => "yellow",
                _ => "red",
            };
            table.AddRow(
                new Markup(Markup.Escape(name)),
                new Markup($"[{color}]{endpoint.Health}[/]"),
                new Markup(rate.ToString("F0", CultureInfo.InvariantCulture)),
                new Markup((traffic?.Latency.P50.TotalMilliseconds ?? 0).ToString("F1", CultureInfo.InvariantCulture)),
                new Markup((traffic?.Latency.P99.TotalMilliseconds ?? 0).ToString("F1", CultureInfo.InvariantCulture)),
                new Markup($"[blue]{new string('█', (int)Math.Round(share * 30))}[/] {share.ToString("P0", CultureInfo.InvariantCulture)}"));
        }

        var failed = recorder.Failed;
        var header = new Markup(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{elapsed.TotalSeconds:F0}/{duration.TotalSeconds:F0} s[/]  {Markup.Escape(phase)}\nrequests ok: [green]{recorder.Succeeded}[/]   failed: [{(failed == 0 ? "green" : "red")}]{failed}[/]"));
        var log = new Markup(Markup.Escape(string.Join('\n', events.TakeLast(8))));
        return new Rows(header, table, new Panel(log).Header("mesh events").Expand());
    }

    public static string Summary(TrafficReport report, DemoOptions options, IEnumerable<string> events, MeshServiceSnapshot service, Func<MeshEndpoint, string> nameOf)
    {
        var text = new StringBuilder();
        text.AppendLine();
        var where = options.Docker ? "3 replicas in containers (FROM scratch image, no registry)" : "3 in-process replicas over mutual TLS (spiffe://mesh.demo/catalog)";
        text.AppendLine(CultureInfo.InvariantCulture, $"Mesh SDK demo — {options.Duration.TotalSeconds:F0} s, balancer {options.Balancer}, {where}");
        text.AppendLine("Timeline:");
        foreach (var e in events)
        {
            text.AppendLine("  " + e);
        }

        text.AppendLine("Traffic:");
        foreach (var replica in report.Replicas)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {replica.Replica,-10} {replica.Requests,7} requests ({report.ShareOf(replica.Replica),6:P1})  p50 {replica.Latency.P50.TotalMilliseconds,6:F2} ms  p99 {replica.Latency.P99.TotalMilliseconds,7:F2} ms");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"  all        {report.Succeeded,7} requests at {report.Throughput:F0} req/s   p50 {report.Latency.P50.TotalMilliseconds,6:F2} ms  p99 {report.Latency.P99.TotalMilliseconds,7:F2} ms");
        text.AppendLine(CultureInfo.InvariantCulture, $"Failed requests: {report.Failed}{(report.Failed == 0 ? " — the mesh kept every request alive through the slowdown, the kill and the restart." : "")}");
        foreach (var failure in report.Failures.Take(10))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {failure.At:HH:mm:ss.fff} {failure.Reason}");
        }

        text.Append("Final state: ").AppendJoin(", ", service.Endpoints.Select(e => $"{nameOf(e.Endpoint)} {e.Health}"));
        return text.ToString();
    }
}
