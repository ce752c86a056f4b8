using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Mesh.Testing;

/// <summary>
/// An xunit class or collection fixture that starts a <see cref="ServiceFleet"/> once for its tests. A fleet that fails
/// to start does not fail the fixture silently: every test that touches <see cref="Fleet"/> fails with the real cause
/// and the replicas' logs. Honours the test framework's cancellation.
/// </summary>
public abstract class FleetFixture : IAsyncLifetime
{
    private ServiceFleet? _fleet;
    private Exception? _failure;

    /// <summary>The fleet; throws the start-up failure (with logs) if it did not start.</summary>
    public ServiceFleet Fleet => _fleet ?? throw new FleetStartupException(
        $"The fleet of {GetType().Name} did not start: {_failure?.Message ?? "InitializeAsync has not run"}", _failure);

    /// <summary>The start-up failure, if the fleet did not start.</summary>
    public Exception? StartupFailure => _failure;

    /// <summary>Starts the fleet (called once by xunit).</summary>
    protected abstract Task<ServiceFleet> StartFleetAsync(CancellationToken cancellationToken);

    /// <summary>Releases what the fixture created besides the fleet (a Docker session, a template), after the fleet is gone.</summary>
    protected virtual ValueTask DisposeResourcesAsync() => ValueTask.CompletedTask;

    /// <summary>A mesh client for the fleet's service: an <see cref="HttpClient"/> at <c>http://{service}</c> behind
    /// <c>AddMeshHandler()</c>, plus its service provider (for <see cref="MeshMonitor"/>). Dispose it after the test.</summary>
    /// <param name="configureService">Balancer, health checks... of the service.</param>
    /// <param name="configureClient">Handlers before the mesh handler, for example <c>AddStandardResilienceHandler()</c>.</param>
    public MeshTestClient CreateClient(Action<MeshServiceOptions>? configureService = null, Action<IHttpClientBuilder>? configureClient = null) =>
        MeshTestClient.Create(Fleet, configureService, configureClient);

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        try
        {
            _fleet = await StartFleetAsync(TestContext.Current.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_fleet is not null)
        {
            await _fleet.DisposeAsync().ConfigureAwait(false);
        }

        await DisposeResourcesAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}

/// <summary>A mesh client pointed at a fleet: <see cref="Client"/> sends to <c>http://{service}</c> through the mesh.</summary>
public sealed class MeshTestClient : IAsyncDisposable
{
    private MeshTestClient(ServiceProvider services, HttpClient client)
    {
        Services = services;
        Client = client;
        Monitor = services.GetRequiredService<MeshMonitor>();
    }

    /// <summary>The client (BaseAddress <c>http://{service}</c>).</summary>
    public HttpClient Client { get; }

    /// <summary>The mesh's view of the fleet.</summary>
    public MeshMonitor Monitor { get; }

    /// <summary>The service provider behind the client.</summary>
    public ServiceProvider Services { get; }

    /// <summary>Creates a client for <paramref name="fleet"/>.</summary>
    public static MeshTestClient Create(ServiceFleet fleet, Action<MeshServiceOptions>? configureService = null, Action<IHttpClientBuilder>? configureClient = null)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        var services = new ServiceCollection();
        services.AddMeshFleet(fleet, configureService);
        var builder = services.AddHttpClient(fleet.ServiceName, c => c.BaseAddress = new Uri($"http://{fleet.ServiceName}"));
        configureClient?.Invoke(builder);
        builder.AddMeshHandler();
        var provider = services.BuildServiceProvider();
        return new MeshTestClient(provider, provider.GetRequiredService<IHttpClientFactory>().CreateClient(fleet.ServiceName));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Services.DisposeAsync().ConfigureAwait(false);
    }
}
