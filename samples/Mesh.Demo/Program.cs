using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Mesh;
using Mesh.Containers;
using Mesh.Demo;
using Mesh.Identity;
using Mesh.Testing;
using Mesh.Testing.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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

// 1. Identities from a development CA: the catalog replicas are spiffe://mesh.demo/catalog, the client is
//    spiffe://mesh.demo/storefront; each side checks the other's SVID (mutual TLS, identity instead of host names).
using var ca = DevelopmentCertificateAuthority.Create("mesh.demo");
DockerSession? session = null;
ContainerReplicaTemplate? containers = null;
ReplicaTemplate template;
if (options.Docker)
{
    try
    {
        session = await DockerSession.StartAsync(cancellationToken: cancel.Token);
    }
    catch (DockerEngineUnavailableException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }

    Console.WriteLine("Building the test replica image (FROM scratch, no registry)...");
    containers = await ContainerReplicaTemplate.ForTestReplicaAsync(session, cancellationToken: cancel.Token);
    template = containers;
}
else
{
    template = ReplicaTemplate.InProcess(new InProcessReplicaOptions
    {
        ConfigureHttps = listen => listen.UseMeshIdentity(server =>
        {
            server.IdentitySource = ca.CreateIdentitySource("spiffe://mesh.demo/catalog");
            server.AuthorizedClients.Add(SpiffeIdPattern.Parse("spiffe://mesh.demo/storefront"));
        }),
    });
}

// 2. Three replicas of "catalog" (a Deployment with replicas: 3, at demo scale).
await using var fleet = await ServiceFleet.StartAsync("catalog", 3, template, cancellationToken: cancel.Token);

// 3. The app's side: AddMeshClient + a client behind the standard resilience handler and the mesh. With --ui the app is
//    an ASP.NET Core app that also serves the mesh's live page (MapMeshDiagnostics, loopback callers only).
WebApplicationBuilder? web = options.Ui ? WebApplication.CreateSlimBuilder() : null;
IServiceCollection services = web?.Services ?? new ServiceCollection();
if (web is not null)
{
    web.Logging.ClearProviders();
    web.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.UiPort));
}

if (!options.Docker)
{
    services.AddMeshIdentity(ca.CreateIdentitySource("spiffe://mesh.demo/storefront"));
}

services.AddMeshFleet(fleet, catalog =>
{
    catalog.LoadBalancer = options.Balancer;
    catalog.ServerIdentity = options.Docker ? null : "spiffe://mesh.demo/catalog";
    catalog.HealthCheck.Path = "/healthz";
    catalog.HealthCheck.Interval = TimeSpan.FromSeconds(1);
    catalog.HealthCheck.Timeout = TimeSpan.FromMilliseconds(500);
    catalog.OutlierDetection.BaseEjectionTime = TimeSpan.FromSeconds(3);
    catalog.SlowStart.Window = TimeSpan.FromSeconds(5);
});
services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
    .AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.FromMilliseconds(10))
    .AddMeshHandler();
await using var host = web is null ? null : web.Build();
await using var container = host is null ? services.BuildServiceProvider() : null;
IServiceProvider provider = (IServiceProvider?)host?.Services ?? container!;
string? pageUrl = null;
if (host is not null)
{
    host.MapMeshDiagnostics();
    await host.StartAsync(cancel.Token);
    pageUrl = $"{host.Urls.First()}/mesh/ui";
    Console.WriteLine($"The mesh's live page: {pageUrl}  (JSON: {host.Urls.First()}/mesh)");
}

var monitor = provider.GetRequiredService<MeshMonitor>();
var events = new ConcurrentQueue<string>();
var clock = System.Diagnostics.Stopwatch.StartNew();
monitor.EndpointHealthChanged += (_, e) =>
    events.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:F1}s  {NameOf(e.Endpoint)} {e.Previous} -> {e.Current}: {e.Reason}"));

string NameOf(MeshEndpoint endpoint) => fleet.Replicas.FirstOrDefault(r => r.Address.Port == endpoint.Address.Port)?.Id ?? endpoint.Key;

// 4. The scenario, as fractions of the run.
var phase = $"steady traffic over three healthy replicas{(options.Docker ? " (containers)" : " over mTLS")}";
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

    await At(0.20, "catalog-2 slowed by +50 ms: the balancer moves traffic away", () => fleet[1].ConfigureAsync(new ReplicaChange { Latency = TimeSpan.FromMilliseconds(50) }, cancel.Token));
    await At(0.45, "catalog-3 killed: ejected, retries land elsewhere", () => fleet[2].KillAsync(cancel.Token));
    await At(0.65, "catalog-3 restarted: probed, then ramped up by slow start", () => fleet[2].RestartAsync(cancel.Token));
    await At(0.85, "catalog-2 recovered: traffic comes back", () => fleet[1].ConfigureAsync(new ReplicaChange { Latency = TimeSpan.Zero }, cancel.Token));
}, cancel.Token);

// 5. Steady traffic through the mesh, with a live view.
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

Console.WriteLine(LiveView.Summary(report, options, events, monitor.GetService("catalog"), NameOf));
if (pageUrl is not null && options.Interactive && !cancel.IsCancellationRequested)
{
    Console.WriteLine($"The page stays up at {pageUrl}; press Enter to stop.");
    await Task.WhenAny(Task.Run(() => Console.ReadLine()), Task.Delay(Timeout.Infinite, cancel.Token).ContinueWith(_ => { }, TaskScheduler.Default));
}

await fleet.DisposeAsync();
if (containers is not null)
{
    await containers.DisposeAsync();
}

if (session is not null)
{
    await session.DisposeAsync();
}

return report.Failed == 0 ? 0 : 1;
