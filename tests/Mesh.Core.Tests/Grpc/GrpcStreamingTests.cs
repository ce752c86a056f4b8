using Grpc.Core;
using Mesh.Testing;

namespace Mesh.Tests.GrpcTests;

/// <summary>
/// Issue 17, item 2: a streaming call is in flight for LeastRequest (and peak-EWMA's load factor) for as long as it
/// runs, and the balancer's latency sample is its time to response headers, not its duration.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class GrpcStreamingTests
{
    [Fact]
    public async Task Open_streams_count_in_flight_until_they_end_so_LeastRequest_spreads_them()
    {
        await using var app = await GrpcApp.StartAsync(2, new() { ["LoadBalancer"] = "LeastRequest" });
        var calls = new List<AsyncServerStreamingCall<ReplicaReply>>();
        var servedBy = new List<string>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var call = app.Client.ServerStream(new ReplicaRequest { Messages = 1, HoldOpen = true }, cancellationToken: GrpcApp.Token);
                calls.Add(call);
                Assert.True(await call.ResponseStream.MoveNext(GrpcApp.Token));
                servedBy.Add(call.ResponseStream.Current.ReplicaId);
            }

            // Open streams count as load: LeastRequest's rule (the first candidate keeps a stream unless it carries
            // more than 1.5 × the other's open streams plus this one) never lets one replica hold more than 4 of 6,
            // where streams that left flight at their headers would all look idle and follow the random draw.
            var onFirst = servedBy.Count(id => id == "r0");
            Assert.InRange(onFirst, 2, 4);
            Assert.Equal(onFirst, app.Endpoint(0).InFlight);
            Assert.Equal(6 - onFirst, app.Endpoint(1).InFlight);

            // Unary calls in between come and go; the streams stay counted.
            await app.UnaryAsync(10);
            Assert.Equal(6, app.Monitor.GetService("catalog").Endpoints.Sum(e => e.InFlight));
        }
        finally
        {
            foreach (var call in calls)
            {
                call.Dispose();
            }
        }

        Assert.All(app.Monitor.GetService("catalog").Endpoints, e => Assert.Equal(0, e.InFlight));
    }

    [Fact]
    public async Task A_stream_read_to_its_end_leaves_flight_at_its_end()
    {
        await using var app = await GrpcApp.StartAsync(1);

        using var call = app.Client.ServerStream(new ReplicaRequest { Messages = 3, IntervalMs = 200 }, cancellationToken: GrpcApp.Token);
        Assert.True(await call.ResponseStream.MoveNext(GrpcApp.Token));
        Assert.Equal(1, app.Endpoint(0).InFlight);
        var replies = 1;
        while (await call.ResponseStream.MoveNext(GrpcApp.Token))
        {
            replies++;
        }

        Assert.Equal(3, replies);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(0, app.Endpoint(0).InFlight);
        Assert.Equal(0, app.Endpoint(0).Failures);
    }

    [Fact]
    public async Task The_latency_sample_of_a_stream_is_its_time_to_response_headers_not_its_duration()
    {
        await using var app = await GrpcApp.StartAsync(1, new() { ["LoadBalancer"] = "PeakEwma" });

        // 4 replies 300 ms apart: the call lasts about 0.9 s; its headers come with the first reply.
        var (answeredBy, failed) = await app.StreamAsync(2, new ReplicaRequest { Messages = 4, IntervalMs = 300 });

        Assert.Empty(failed);
        Assert.Equal(2, answeredBy.Count);
        var rtt = app.Endpoint(0).RttEstimate;
        Assert.NotNull(rtt);
        Assert.True(rtt < TimeSpan.FromMilliseconds(250), $"RTT estimate {rtt} after 0.9 s streams");
    }
}
