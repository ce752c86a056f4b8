using System.Net;
using Mesh.Testing;

namespace Mesh.Testing.Tests.Replicas;

public sealed class InProcessReplicaTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Answers_with_its_id_in_the_body_and_the_header()
    {
        await using var replica = await InProcessReplica.StartAsync("r1", cancellationToken: Token);
        using var client = new HttpClient { BaseAddress = replica.Address };

        using var response = await client.GetAsync("/anything", Token);

        Assert.Equal("r1", await response.Content.ReadAsStringAsync(Token));
        Assert.Equal("r1", response.Headers.GetValues(InProcessReplica.ReplicaHeader).Single());
    }

    [Fact]
    public async Task The_control_api_turns_health_errors_and_version()
    {
        await using var replica = await InProcessReplica.StartAsync("r2", cancellationToken: Token);
        using var client = new HttpClient { BaseAddress = replica.Address };

        await client.PostAsync("/control/healthy?value=false", null, Token);
        await client.PostAsync("/control/errors?value=1", null, Token);
        await client.PostAsync("/control/version?value=v2", null, Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/healthz", Token)).StatusCode);
        using var response = await client.GetAsync("/", Token);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("v2", response.Headers.GetValues(InProcessReplica.VersionHeader).Single());
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/control/errors?value=lots", null, Token)).StatusCode);
    }

    [Fact]
    public async Task A_hanging_replica_accepts_and_never_answers()
    {
        await using var replica = await InProcessReplica.StartAsync("r3", cancellationToken: Token);
        replica.Behavior.Hang = true;
        using var client = new HttpClient { BaseAddress = replica.Address, Timeout = TimeSpan.FromMilliseconds(300) };

        await Assert.ThrowsAsync<TaskCanceledException>(() => client.GetAsync("/", Token));
    }

    [Fact]
    public async Task A_stopped_replica_refuses_connections_and_listens_on_the_same_port_after_a_restart()
    {
        await using var replica = await InProcessReplica.StartAsync("r4", cancellationToken: Token);
        var port = replica.Port;
        using var client = new HttpClient { BaseAddress = replica.Address };

        await replica.StopAsync();
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/", Token));
        await replica.StartAsync(Token);

        Assert.Equal(HttpRequestError.ConnectionError, refused.HttpRequestError);
        Assert.Equal(port, replica.Port);
        Assert.Equal("r4", await client.GetStringAsync("/", Token));
    }
}
