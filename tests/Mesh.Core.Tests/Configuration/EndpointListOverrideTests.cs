using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Configuration;

/// <summary>
/// An endpoint list in <c>appsettings.json</c> overridden the way docs/configuration.md says (issue #15, item 6): a plain
/// value at <c>Endpoints</c>, written by an environment variable or the command line, replaces the whole list.
/// Real environment-variable and command-line providers, real replicas.
/// </summary>
public sealed class EndpointListOverrideTests : IAsyncLifetime
{
    private readonly List<InProcessReplica> _replicas = [];

    private string Address(int i) => _replicas[i].Address.ToString().TrimEnd('/');

    private string JsonWithThreeEndpoints => $$"""
        { "Mesh": { "Services": { "catalog": {
            "LoadBalancer": "RoundRobin",
            "Endpoints": [ "{{Address(0)}}", { "Address": "{{Address(1)}}", "Weight": 2 }, "{{Address(2)}}" ] } } } }
        """;

    public async ValueTask InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
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

    /// <summary>Sets real environment variables under a prefix unique to the test, removed afterwards.</summary>
    private sealed class EnvironmentVariables : IDisposable
    {
        private readonly List<string> _names = [];

        public string Prefix { get; } = $"MESHTEST_{Guid.NewGuid():N}_";

        public void Set(string name, string value)
        {
            _names.Add(Prefix + name);
            Environment.SetEnvironmentVariable(Prefix + name, value);
        }

        public void Dispose()
        {
            foreach (var name in _names)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }
    }

    private async Task<HashSet<string>> ServedByAsync(Microsoft.Extensions.Hosting.IHost host, int requests = 12)
    {
        var served = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests; i++)
        {
            served.Add(await UserApp.GetReplicaAsync(host));
        }

        return served;
    }

    [Fact]
    public async Task An_environment_variable_at_Endpoints_replaces_the_list_from_appsettings()
    {
        using var variables = new EnvironmentVariables();
        variables.Set("Mesh__Services__catalog__Endpoints", Address(1));
        using var app = new UserApp().WithJson(JsonWithThreeEndpoints);
        app.Builder.Configuration.AddEnvironmentVariables(variables.Prefix);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(UserApp.Token);

        var endpoints = host.Services.GetRequiredService<MeshMonitor>().GetService("catalog").Endpoints;
        Assert.Equal([Address(1)], endpoints.Select(e => e.Endpoint.Address.ToString().TrimEnd('/')));
        Assert.Equal(1, endpoints[0].Endpoint.Weight);
        Assert.Equal(["r1"], await ServedByAsync(host));
        await host.StopAsync(UserApp.Token);
    }

    [Theory]
    [InlineData(",")]
    [InlineData(";")]
    [InlineData(", ")]
    public async Task One_environment_variable_may_list_several_endpoints(string separator)
    {
        using var variables = new EnvironmentVariables();
        variables.Set("Mesh__Services__catalog__Endpoints", Address(0) + separator + Address(2));
        using var app = new UserApp().WithJson(JsonWithThreeEndpoints);
        app.Builder.Configuration.AddEnvironmentVariables(variables.Prefix);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(UserApp.Token);

        Assert.Equal(["r0", "r2"], (await ServedByAsync(host)).Order(StringComparer.Ordinal));
        await host.StopAsync(UserApp.Token);
    }

    [Fact]
    public async Task A_command_line_value_at_Endpoints_replaces_the_list_too()
    {
        using var app = new UserApp().WithJson(JsonWithThreeEndpoints);
        app.Builder.Configuration.AddCommandLine([$"--Mesh:Services:catalog:Endpoints={Address(2)}"]);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(UserApp.Token);

        Assert.Equal(["r2"], await ServedByAsync(host));
        await host.StopAsync(UserApp.Token);
    }

    [Fact]
    public async Task A_list_in_a_later_provider_replaces_a_plain_value_of_an_earlier_one()
    {
        using var variables = new EnvironmentVariables();
        variables.Set("Mesh__Services__catalog__Endpoints__0", Address(2));
        using var app = new UserApp().WithJson($$"""{ "Mesh": { "Services": { "catalog": { "Endpoints": "{{Address(0)}},{{Address(1)}}" } } } }""");
        app.Builder.Configuration.AddEnvironmentVariables(variables.Prefix);
        using var host = app.BuildWithMeshClient();

        await host.StartAsync(UserApp.Token);

        Assert.Equal(["r2"], await ServedByAsync(host));
        await host.StopAsync(UserApp.Token);
    }

    [Fact]
    public async Task An_indexed_environment_variable_still_overrides_one_item_of_the_list()
    {
        using var variables = new EnvironmentVariables();
        variables.Set("Mesh__Services__catalog__Endpoints__2", Address(0));
        variables.Set("Mesh__Services__catalog__Endpoints__1__Address", Address(2));
        using var app = new UserApp().WithJson($$"""
            { "Mesh": { "Services": { "catalog": { "LoadBalancer": "RoundRobin", "Endpoints": [ "{{Address(0)}}", "{{Address(1)}}", "{{Address(1)}}" ] } } } }
            """);
        app.Builder.Configuration.AddEnvironmentVariables(variables.Prefix);
        using var host = app.BuildWithMeshClient();

        var error = await UserApp.StartFailureAsync(host);

        // .NET merges arrays by index: the user wrote items 1 and 2, so both keys they wrote are named.
        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Services:catalog:Endpoints:2: duplicate endpoint", StringComparison.Ordinal) &&
            f.Contains("Mesh:Services:catalog:Endpoints:0", StringComparison.Ordinal));
    }
}
