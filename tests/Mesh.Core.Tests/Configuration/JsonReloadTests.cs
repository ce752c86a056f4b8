using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.Configuration;

/// <summary>
/// Saving <c>appsettings.json</c> while the app runs (reloadOnChange), through the real JSON file provider and file
/// watcher: a save that does not validate is refused with one Error naming every bad key, the last good configuration
/// keeps serving, nothing throws into the app; the next good save applies.
/// </summary>
public sealed class JsonReloadTests : IAsyncLifetime
{
    private readonly List<InProcessReplica> _replicas = [];

    private string Address(int i) => _replicas[i].Address.ToString().TrimEnd('/');

    public async ValueTask InitializeAsync()
    {
        for (var i = 0; i < 2; i++)
        {
            _replicas.Add(await InProcessReplica.StartAsync($"r{i}", cancellationToken: TestContext.Current.CancellationToken));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }
    }

    private string Settings(int replica) => $$"""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "{{Address(replica)}}" ] } } } }""";

    [Fact]
    public async Task A_save_that_does_not_validate_is_refused_and_the_next_good_one_applies()
    {
        using var app = new UserApp().WithJson(Settings(0), reloadOnChange: true);
        using var host = app.BuildWithMeshClient();
        await host.StartAsync(UserApp.Token);
        Assert.Equal("r0", await UserApp.GetReplicaAsync(host));

        app.SaveJson($$"""
            { "Mesh": { "Services": { "catalog": {
                "LoadBalancer": "3",
                "Endpoints": [ { "Address": "{{Address(1)}}", "Weight": 0 } ],
                "HealthCheck": { "Interval": "5" } } } } }
            """);
        await UserApp.WaitUntilAsync(() => app.Logs.GetSnapshot().Any(r => r.Id.Name == "ReloadRefused"), TimeSpan.FromSeconds(15), "the bad save is refused");

        // An editor's save may reach the file watcher as more than one change: each is refused the same way.
        var log = app.Logs.GetSnapshot().First(r => r.Id.Name == "ReloadRefused");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, log.Level);
        Assert.Contains("Mesh:Services:catalog:LoadBalancer: '3' is not valid", log.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Services:catalog:Endpoints:0:Weight: 0", log.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Services:catalog:HealthCheck:Interval: '5' is not a time span", log.Message, StringComparison.Ordinal);
        Assert.Equal("r0", await UserApp.GetReplicaAsync(host));
        var current = host.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>().CurrentValue;
        Assert.Equal(Address(0), current.Services["catalog"].Endpoints.Single().Address);

        app.SaveJson(Settings(1));
        await UserApp.WaitUntilAsync(async () => await UserApp.GetReplicaAsync(host) == "r1", TimeSpan.FromSeconds(15), "the good save applies");
        Assert.Equal(Address(1), host.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>().CurrentValue.Services["catalog"].Endpoints.Single().Address);
        await host.StopAsync(UserApp.Token);
    }

    [Fact]
    public async Task A_save_that_is_not_even_json_keeps_the_mesh_serving()
    {
        using var app = new UserApp().WithJson(Settings(0), reloadOnChange: true);
        var local = Path.Combine(Path.GetDirectoryName(app.SettingsPath)!, "appsettings.Local.json");
        File.WriteAllText(local, """{ "Logging": { "LogLevel": { "Default": "Information" } } }""");
        app.Builder.Configuration.AddJsonFile(local, optional: false, reloadOnChange: true);
        using var host = app.BuildWithMeshClient();
        await host.StartAsync(UserApp.Token);
        var configuration = host.Services.GetRequiredService<IConfiguration>();

        // The JSON provider drops every key of a file that no longer parses (and tells no one).
        app.SaveJson("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ """);
        await UserApp.WaitUntilAsync(() => configuration["Mesh:Services:catalog:Endpoints:0"] is null, TimeSpan.FromSeconds(15), "the broken file is read");
        Assert.Equal("r0", await UserApp.GetReplicaAsync(host));

        // Any later reload (here another file's save) would apply a configuration without the mesh: it is refused.
        File.WriteAllText(local, """{ "Logging": { "LogLevel": { "Default": "Warning" } } }""");
        await UserApp.WaitUntilAsync(() => app.Logs.GetSnapshot().Any(r => r.Id.Name == "ReloadRefused"), TimeSpan.FromSeconds(15), "the reload without the mesh is refused");
        Assert.Contains(app.Logs.GetSnapshot(), r => r.Id.Name == "ReloadRefused" && r.Message.Contains("'Mesh' section is no longer in the configuration", StringComparison.Ordinal));
        Assert.Equal("r0", await UserApp.GetReplicaAsync(host));

        app.SaveJson(Settings(1));
        await UserApp.WaitUntilAsync(async () => await UserApp.GetReplicaAsync(host) == "r1", TimeSpan.FromSeconds(15), "the repaired save applies");
        await host.StopAsync(UserApp.Token);
    }
}
