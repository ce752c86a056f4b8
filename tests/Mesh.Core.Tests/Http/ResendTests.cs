using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Http;

/// <summary>
/// A handler of the app's own that resends the same message (here around <see cref="MeshHandlerFactory"/>, where no
/// scope handler runs first): the resend avoids the endpoint that failed, although the first attempt made no request
/// scope (the mesh makes it only when an attempt fails). Real replicas on loopback.
/// </summary>
public sealed class ResendTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Resends the same message once when the answer is a server error.</summary>
    private sealed class ResendOnceHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if ((int)response.StatusCode < 500)
            {
                return response;
            }

            response.Dispose();
            return await base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task A_resend_of_the_same_message_avoids_the_endpoint_that_failed_it()
    {
        await using var failing = await InProcessReplica.StartAsync("failing", cancellationToken: Token);
        await using var healthy = await InProcessReplica.StartAsync("healthy", cancellationToken: Token);
        failing.Behavior.ErrorRate = 1;
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.Random };
            catalog.OutlierDetection.ConsecutiveFailures = 0; // keep the failing replica in play
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = failing.Address.ToString() });
            catalog.Endpoints.Add(new MeshEndpointOptions { Address = healthy.Address.ToString() });
            o.Services["catalog"] = catalog;
        });
        await using var provider = services.BuildServiceProvider();
        using var client = new HttpClient(new ResendOnceHandler { InnerHandler = provider.GetRequiredService<MeshHandlerFactory>().CreateHandler() })
        {
            BaseAddress = new Uri("http://catalog"),
        };

        var statuses = new List<int>();
        for (var i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync("/", Token);
            statuses.Add((int)response.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(200, s)); // a resend to the failing replica again would answer 500
    }
}
