using System.Net;
using Grpc.Core;
using Grpc.Net.Client;

namespace Mesh.Testing.Tests.Replicas;

/// <summary>The test replica's own gRPC service: chosen statuses trailers-only or after the replies, streams, injected
/// errors, and their control API — called with a plain <see cref="GrpcChannel"/>.</summary>
public sealed class ReplicaGrpcServiceTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static async Task<(InProcessReplica Replica, GrpcChannel Channel, ReplicaService.ReplicaServiceClient Client)> StartAsync()
    {
        var replica = await InProcessReplica.StartAsync("g1", new InProcessReplicaOptions { EnableGrpc = true }, Token);
        var channel = GrpcChannel.ForAddress(replica.Address);
        return (replica, channel, new ReplicaService.ReplicaServiceClient(channel));
    }

    [Fact]
    public async Task A_unary_call_answers_with_the_replica_id_or_the_requested_status()
    {
        var (replica, channel, client) = await StartAsync();
        await using var _ = replica;
        using var __ = channel;

        Assert.Equal("g1", (await client.UnaryAsync(new ReplicaRequest(), cancellationToken: Token)).ReplicaId);
        var trailersOnly = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new ReplicaRequest { Status = (int)StatusCode.NotFound }, cancellationToken: Token).ResponseAsync);
        var afterHeaders = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new ReplicaRequest { Status = (int)StatusCode.Internal, StatusAfterMessages = true }, cancellationToken: Token).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, trailersOnly.StatusCode);
        Assert.Equal(StatusCode.Internal, afterHeaders.StatusCode);
        Assert.Equal(3, replica.RequestCount);
    }

    [Fact]
    public async Task A_server_stream_sends_its_replies_then_the_requested_status()
    {
        var (replica, channel, client) = await StartAsync();
        await using var _ = replica;
        using var __ = channel;

        using var call = client.ServerStream(new ReplicaRequest { Messages = 3, Status = (int)StatusCode.Unavailable, StatusAfterMessages = true }, cancellationToken: Token);
        var indexes = new List<int>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(Token))
            {
                indexes.Add(call.ResponseStream.Current.Index);
            }
        });

        Assert.Equal([0, 1, 2], indexes);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task Injected_errors_take_the_status_set_over_the_control_API()
    {
        var (replica, channel, client) = await StartAsync();
        await using var _ = replica;
        using var __ = channel;
        using var control = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using (var set = await control.PostAsync(new Uri(replica.Address, "/control/grpc-status?value=RESOURCE_EXHAUSTED"), null, Token))
        {
            Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);
        }

        using (var bad = await control.PostAsync(new Uri(replica.Address, "/control/grpc-status?value=14"), null, Token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        (await control.PostAsync(new Uri(replica.Address, "/control/errors?value=1"), null, Token)).Dispose();
        var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new ReplicaRequest(), cancellationToken: Token).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, replica.Behavior.GrpcErrorStatus);

        replica.Behavior.Reset();
        Assert.Equal(StatusCode.Unavailable, replica.Behavior.GrpcErrorStatus);
        Assert.Equal("g1", (await client.UnaryAsync(new ReplicaRequest(), cancellationToken: Token)).ReplicaId);
    }
}
