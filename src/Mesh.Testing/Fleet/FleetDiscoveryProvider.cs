using Mesh.Discovery;

namespace Mesh.Testing;

/// <summary>A fleet registered with the mesh (see <c>AddMeshFleet</c>).</summary>
internal sealed record FleetRegistration(ServiceFleet Fleet);

/// <summary>The discovery provider <c>Fleet</c>: publishes each registered fleet's replicas as its service's
/// endpoints, again whenever the fleet changes.</summary>
internal sealed class FleetDiscoveryProvider(IEnumerable<FleetRegistration> fleets) : IMeshDiscoveryProvider
{
    public const string ProviderName = "Fleet";

    public string Name => ProviderName;

    public IAsyncDisposable Watch(MeshDiscoveryContext context)
    {
        var fleet = fleets.Select(f => f.Fleet).FirstOrDefault(f => string.Equals(f.ServiceName, context.ServiceName, StringComparison.OrdinalIgnoreCase));
        if (fleet is null)
        {
            context.ReportFailure(new InvalidOperationException($"No fleet serves '{context.ServiceName}'; register it with services.AddMeshFleet(fleet)."));
            return new Subscription(null, null);
        }

        void OnChanged(object? sender, EventArgs e) => context.Publish(fleet.Endpoints);
        fleet.Changed += OnChanged;
        context.Publish(fleet.Endpoints);
        return new Subscription(fleet, OnChanged);
    }

    private sealed class Subscription(ServiceFleet? fleet, EventHandler? handler) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            if (fleet is not null)
            {
                fleet.Changed -= handler;
            }

            return ValueTask.CompletedTask;
        }
    }
}
