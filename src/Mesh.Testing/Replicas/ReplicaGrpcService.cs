using Grpc.Core;

namespace Mesh.Testing;

/// <summary>
/// The test replica's <c>mesh.testing.v1.ReplicaService</c>: each reply names the replica; each call ends with the status
/// the request asks for (<see cref="ReplicaRequest.Status"/>), or with an injected error (<see cref="ReplicaBehavior.ErrorRate"/>
/// of <see cref="ReplicaBehavior.GrpcErrorStatus"/>), either as a trailers-only response (the server fails before
/// answering) or in the trailers after the replies. Latency and hangs apply as to HTTP requests.
/// </summary>
internal sealed class ReplicaGrpcService(InProcessReplica replica) : ReplicaService.ReplicaServiceBase
{
    private ReplicaBehavior Behavior => replica.Behavior;

    public override async Task<ReplicaReply> Unary(ReplicaRequest request, ServerCallContext context)
    {
        var (status, afterMessages) = await BeginAsync(request, context).ConfigureAwait(false);
        if (status != StatusCode.OK)
        {
            if (afterMessages)
            {
                await context.WriteResponseHeadersAsync([]).ConfigureAwait(false);
            }

            throw Failure(status);
        }

        return new ReplicaReply { ReplicaId = replica.Id };
    }

    public override async Task ServerStream(ReplicaRequest request, IServerStreamWriter<ReplicaReply> responseStream, ServerCallContext context)
    {
        var (status, afterMessages) = await BeginAsync(request, context).ConfigureAwait(false);
        if (status != StatusCode.OK && !afterMessages)
        {
            throw Failure(status);
        }

        for (var i = 0; i < request.Messages; i++)
        {
            if (i > 0 && request.IntervalMs > 0)
            {
                await Task.Delay(request.IntervalMs, context.CancellationToken).ConfigureAwait(false);
            }

            await responseStream.WriteAsync(new ReplicaReply { ReplicaId = replica.Id, Index = i }, context.CancellationToken).ConfigureAwait(false);
        }

        if (request.HoldOpen)
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken).ConfigureAwait(false);
        }

        if (status != StatusCode.OK)
        {
            if (request.Messages == 0)
            {
                await context.WriteResponseHeadersAsync([]).ConfigureAwait(false);
            }

            throw Failure(status);
        }
    }

    private async Task<(StatusCode Status, bool AfterMessages)> BeginAsync(ReplicaRequest request, ServerCallContext context)
    {
        replica.CountRequest();
        if (Behavior.Hang)
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken).ConfigureAwait(false);
        }

        if (Behavior.Latency > TimeSpan.Zero)
        {
            await Task.Delay(Behavior.Latency, context.CancellationToken).ConfigureAwait(false);
        }

        if (request.Status != 0)
        {
            return ((StatusCode)request.Status, request.StatusAfterMessages);
        }

        var rate = Behavior.ErrorRate;
        return rate > 0 && System.Random.Shared.NextDouble() < rate
            ? (Behavior.GrpcErrorStatus, request.StatusAfterMessages || Behavior.GrpcStatusAfterMessages)
            : (StatusCode.OK, false);
    }

    private RpcException Failure(StatusCode status) => new(new Status(status, $"{replica.Id}: {status}"));
}
