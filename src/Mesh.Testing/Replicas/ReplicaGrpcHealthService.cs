using Grpc.Core;
using Grpc.Health.V1;

namespace Mesh.Testing;

/// <summary>The test replica's <c>grpc.health.v1.Health</c>: its status follows <see cref="ReplicaBehavior.Healthy"/>,
/// and the injected latency, hang and error rate apply to it as to HTTP requests.</summary>
internal sealed class ReplicaGrpcHealthService(ReplicaBehavior behavior) : Grpc.Health.V1.Health.HealthBase
{
    public override async Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (behavior.Hang)
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken).ConfigureAwait(false);
        }

        if (behavior.Latency > TimeSpan.Zero)
        {
            await Task.Delay(behavior.Latency, context.CancellationToken).ConfigureAwait(false);
        }

        if (behavior.ErrorRate > 0 && System.Random.Shared.NextDouble() < behavior.ErrorRate)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "injected error"));
        }

        return new HealthCheckResponse
        {
            Status = behavior.Healthy ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing,
        };
    }
}
