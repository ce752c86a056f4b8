using System.Collections.Concurrent;
using Mesh.Containers.Tests.TestSupport;
using Mesh.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Containers.Tests.Discovery;

public sealed class DockerDiscoveryProviderTests(DockerFixture fixture)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_labelled_container_appears_as_an_endpoint_with_its_metadata_and_disappears_when_removed()
    {
        fixture.RequireEngine();
        var service = "catalog-" + Guid.NewGuid().ToString("N")[..8];
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions()));
        var sink = new RecordingSink();
        await using var watch = provider.Watch(new MeshDiscoveryContext(service, new ConfigurationBuilder().Build(), sink));
        await sink.WaitForAsync(set => set.Count == 0, Ct);

        var container = await new DockerContainerBuilder(fixture.HttpdImage)
            .WithLabel("mesh.service", service)
            .WithLabel("mesh.metadata.version", "v1")
            .WithPortBinding(80)
            .StartAsync(fixture.Session, Ct);
        var appeared = await sink.WaitForAsync(set => set.Count == 1, Ct);
        await container.DisposeAsync();
        await sink.WaitForAsync(set => set.Count == 0, Ct);

        var endpoint = Assert.Single(appeared);
        Assert.Equal(container.GetBaseAddress(80), endpoint.Address);
        Assert.Equal("v1", endpoint.Metadata["version"]);
        Assert.Equal(container.Name, endpoint.Metadata["container.name"]);
    }

    [Fact]
    public async Task ContainerAddress_mode_uses_the_network_address_and_the_container_port()
    {
        fixture.RequireEngine();
        var service = "inventory-" + Guid.NewGuid().ToString("N")[..8];
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions()));
        var sink = new RecordingSink();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Docker:AddressMode"] = "ContainerAddress",
            ["Docker:Port"] = "80",
        }).Build();
        await using var watch = provider.Watch(new MeshDiscoveryContext(service, configuration, sink));

        await using var container = await new DockerContainerBuilder(fixture.HttpdImage).WithLabel("mesh.service", service).StartAsync(fixture.Session, Ct);
        var endpoints = await sink.WaitForAsync(set => set.Count == 1, Ct);

        Assert.Equal(new Uri($"http://{await container.GetIPAddressAsync(cancellationToken: Ct)}:80"), Assert.Single(endpoints).Address);
    }

    [Fact]
    public async Task A_paused_container_is_withdrawn_and_returns_when_unpaused()
    {
        fixture.RequireEngine();
        var service = "orders-" + Guid.NewGuid().ToString("N")[..8];
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions()));
        var sink = new RecordingSink();
        await using var watch = provider.Watch(new MeshDiscoveryContext(service, new ConfigurationBuilder().Build(), sink));
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage).WithLabel("mesh.service", service).WithPortBinding(80).StartAsync(fixture.Session, Ct);
        await sink.WaitForAsync(set => set.Count == 1, Ct);

        await container.PauseAsync(Ct);
        await sink.WaitForAsync(set => set.Count == 0, Ct);
        await container.UnpauseAsync(Ct);

        await sink.WaitForAsync(set => set.Count == 1, Ct);
    }

    [Fact]
    public async Task After_the_engine_connection_drops_the_watch_reconnects_and_resynchronises()
    {
        fixture.RequireEngine();
        var service = "payments-" + Guid.NewGuid().ToString("N")[..8];
        await using var forwarder = new EngineForwarder();
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions
        {
            Engine = new DockerEngineOptions { Endpoint = forwarder.Endpoint },
            ReconnectDelay = TimeSpan.FromMilliseconds(300),
        }));
        var sink = new RecordingSink();
        await using var watch = provider.Watch(new MeshDiscoveryContext(service, new ConfigurationBuilder().Build(), sink));
        await sink.WaitForAsync(set => set.Count == 0, Ct);

        forwarder.DropAll();
        await using var container = await new DockerContainerBuilder(fixture.HttpdImage).WithLabel("mesh.service", service).WithPortBinding(80).StartAsync(fixture.Session, Ct);

        var failure = await sink.WaitForFailureAsync(Ct);
        var endpoints = await sink.WaitForAsync(set => set.Count == 1, Ct);
        Assert.IsNotType<DockerEngineUnavailableException>(failure);
        Assert.Equal(container.GetBaseAddress(80), Assert.Single(endpoints).Address);
    }

    [Fact]
    public async Task An_unreachable_engine_is_reported_as_a_failure_not_thrown()
    {
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions
        {
            Engine = new DockerEngineOptions { Endpoint = new Uri("unix:///tmp/mesh-no-engine-here.sock") },
        }));
        var sink = new RecordingSink();

        await using var watch = provider.Watch(new MeshDiscoveryContext("catalog", new ConfigurationBuilder().Build(), sink));

        var failure = await sink.WaitForFailureAsync(Ct);
        Assert.IsType<DockerEngineUnavailableException>(failure);
        Assert.Empty(sink.Sets);
    }

    [Fact]
    public void AddMeshDockerDiscovery_called_twice_registers_one_provider_named_Docker_and_applies_the_configuration()
    {
        var services = new ServiceCollection();

        services.AddMeshDockerDiscovery().AddMeshDockerDiscovery(o => o.ServiceLabel = "app");
        using var serviceProvider = services.BuildServiceProvider();

        var provider = Assert.Single(serviceProvider.GetServices<IMeshDiscoveryProvider>());
        Assert.Equal("Docker", provider.Name);
        Assert.Equal("app", serviceProvider.GetRequiredService<IOptions<DockerDiscoveryOptions>>().Value.ServiceLabel);
    }

    [Fact]
    public async Task An_invalid_per_service_setting_is_reported_naming_the_key_and_the_allowed_values()
    {
        await using var provider = new DockerDiscoveryProvider(Options.Create(new DockerDiscoveryOptions()));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Mesh:Services:catalog:Docker:AddressMode"] = "Bridge" }).Build();
        var sink = new RecordingSink();

        await using var watch = provider.Watch(new MeshDiscoveryContext("catalog", configuration.GetSection("Mesh:Services:catalog"), sink));

        var error = await sink.WaitForFailureAsync(Ct);
        Assert.Contains("Mesh:Services:catalog:Docker:AddressMode: 'Bridge' is not valid; allowed values: PublishedPort, ContainerAddress.", error.Message, StringComparison.Ordinal);
        Assert.Empty(sink.Sets);
    }

    private sealed class RecordingSink : IMeshEndpointSink
    {
        private readonly ConcurrentQueue<IReadOnlyList<MeshEndpoint>> _sets = new();
        private readonly ConcurrentQueue<Exception> _failures = new();
        private readonly SemaphoreSlim _changed = new(0);

        public IReadOnlyList<IReadOnlyList<MeshEndpoint>> Sets => _sets.ToArray();

        public void Publish(IReadOnlyList<MeshEndpoint> endpoints)
        {
            _sets.Enqueue(endpoints);
            _changed.Release();
        }

        public void ReportFailure(Exception error)
        {
            _failures.Enqueue(error);
            _changed.Release();
        }

        /// <summary>Waits (at most 15 s) until the latest published set satisfies <paramref name="condition"/>.</summary>
        public async Task<IReadOnlyList<MeshEndpoint>> WaitForAsync(Func<IReadOnlyList<MeshEndpoint>, bool> condition, CancellationToken cancellationToken)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(15));
            while (true)
            {
                if (_sets.LastOrDefault() is { } latest && condition(latest))
                {
                    return latest;
                }

                await _changed.WaitAsync(cts.Token);
            }
        }

        public async Task<Exception> WaitForFailureAsync(CancellationToken cancellationToken)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(15));
            while (true)
            {
                if (_failures.TryPeek(out var failure))
                {
                    return failure;
                }

                await _changed.WaitAsync(cts.Token);
            }
        }
    }
}
