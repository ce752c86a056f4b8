using System.Collections.Concurrent;
using System.Globalization;
using Mesh;
using Mesh.Demo;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Spectre.Console;

DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

// 1. Three replicas of a "catalog" service, in this process, on loopback ports.
var replicas = new List<InProcessReplica>();
for (var i = 1; i <= 3; i++)
{
    replicas.Add(await InProcessReplica.StartAsync($"catalog-{i}", cancellationToken: cancel.Token));
}

// 2. The app's side: AddMeshClient + a typed client behind the standard resilience handler and the mesh.
var services = new ServiceCollection();
services.AddMeshClient(mesh =>
{
    var catalog = new MeshServiceOptions { LoadBalancer = options.Balancer };
    foreach (var replica in replicas)
    {
        catalog.Endpoints.Add(new MeshEndpointOptions { Address = replica.Address.ToString() });
    }

    catalog.HealthCheck.Path = "/healthz";
    catalog.HealthCheck.Interval = TimeSpan.FromSeconds(1);
    catalog.HealthCheck.Timeout = TimeSpan.FromMilliseconds(500);
    catalog.OutlierDetection.BaseEjectionTime = TimeSpan.FromSeconds(3);
    catalog.SlowStart.Window = TimeSpan.FromSeconds(5);
    mesh.Services["catalog"] = catalog;
});
services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
    .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(10)).Services
    .AddHttpClient("catalog").AddMeshHandler();
await using var provider = services.BuildServiceProvider();
var monitor = provider.GetRequiredService<MeshMonitor>();
var events = new ConcurrentQueue<string>();
var clock = System.Diagnostics.Stopwatch.StartNew();
monitor.EndpointHealthChanged += (_, e) =>
    events.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:F1}s  {NameOf(e.Endpoint)} {e.Previous} -> {e.Current}: {e.Reason}"));

string NameOf(MeshEndpoint endpoint) => replicas.FirstOrDefault(r => r.Port == endpoint.Address.Port)?.Id ?? endpoint.Key;

// 3. The scenario, as fractions of the run.
var phase = "steady traffic over three healthy replicas";
var d = options.Duration;
var scenario = Task.Run(async () =>
{
    async Task At(double fraction, string text, Func<Task> action)
    {
        var due = d * fraction - clock.Elapsed;
        if (due > TimeSpan.Zero)
        {
            await Task.Delay(due, cancel.Token);
        }

        phase = text;
        events.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:F1}s  >> {text}"));
        await action();
    }

    await At(0.20, "catalog-2 slowed by +50 ms: the balancer moves traffic away", () => { replicas[1].Behavior.Latency = TimeSpan.FromMilliseconds(50); return Task.CompletedTask; });
    await At(0.45, "catalog-3 killed (listener closed): ejected, retries land elsewhere", () => replicas[2].StopAsync());
    await At(0.65, "catalog-3 restarted: probed, then ramped up by slow start", () => replicas[2].StartAsync(cancel.Token));
    await At(0.85, "catalog-2 recovered: traffic comes back", () => { replicas[1].Behavior.Latency = TimeSpan.Zero; return Task.CompletedTask; });
}, cancel.Token);

// 4. Steady traffic through the mesh, with a live view.
var recorder = new TrafficRecorder();
var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
var traffic = TrafficDriver.RunAsync(client, new TrafficOptions { Concurrency = 8, RequestsPerSecond = 400, Duration = d }, recorder, cancel.Token);

if (options.Interactive)
{
    await AnsiConsole.Live(new Markup("starting…")).AutoClear(false).StartAsync(async live =>
    {
        while (!traffic.IsCompleted)
        {
            await Task.WhenAny(traffic, Task.Delay(500));
            live.UpdateTarget(LiveView.Render(recorder.TakeWindow(), monitor.GetService("catalog"), NameOf, phase, recorder, clock.Elapsed, d, events));
        }
    });
}

var report = await traffic;
try
{
    await scenario;
}
catch (OperationCanceledException)
{
}

foreach (var replica in replicas)
{
    await replica.DisposeAsync();
}

Console.WriteLine(LiveView.Summary(report, options, events, monitor.GetService("catalog"), NameOf));
return report.Failed == 0 ? 0 : 1;
