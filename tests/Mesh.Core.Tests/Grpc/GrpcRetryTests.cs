using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.Tests.GrpcTests;

/// <summary>
/// Issue 17, item 3: gRPC's own retries and hedging (a RetryPolicy or HedgingPolicy in the channel's service config)
/// send a new message per attempt, marked with <c>grpc-previous-rpc-attempts</c>. The mesh charges them to the retry
/// budget and steers a retry away from an endpoint that keeps failing.
/// </summary>
[Collection(Mesh.Tests.Shared.TimingSensitive.Name)]
public sealed class GrpcRetryTests
{
    /// <summary>Retry attempts that reached each replica (by port), as the replicas saw them.</summary>
    private readonly ConcurrentDictionary<int, int> _retriesSeen = new();

    private void CountRetries(InProcessReplicaOptions options) => options.ConfigureApp = app => app.Use((context, next) =>
    {
        if (context.Request.Headers.ContainsKey("grpc-previous-rpc-attempts"))
        {
            _retriesSeen.AddOrUpdate(context.Connection.LocalPort, 1, static (_, n) => n + 1);
        }

        return next(context);
    });

    private static void Retries(IHttpClientBuilder client) => client.ConfigureChannel(c => c.ServiceConfig = new ServiceConfig
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = 5,
                    InitialBackoff = TimeSpan.FromMilliseconds(5),
                    MaxBackoff = TimeSpan.FromMilliseconds(20),
                    BackoffMultiplier = 1.5,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    });

    private static void Hedging(IHttpClientBuilder client) => client.ConfigureChannel(c => c.ServiceConfig = new ServiceConfig
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { MethodName.Default },
                HedgingPolicy = new HedgingPolicy { MaxAttempts = 3, HedgingDelay = TimeSpan.Zero, NonFatalStatusCodes = { StatusCode.Unavailable } },
            },
        },
    });

    private int RetriesSeenBy(InProcessReplica replica) => _retriesSeen.GetValueOrDefault(replica.Port);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_gRPC_retry_avoids_the_endpoint_that_keeps_failing(bool streaming)
    {
        // Random balancing and no ejection: without the mesh's help a retry would go back to the failing replica
        // one time in three.
        await using var app = await GrpcApp.StartAsync(3, new() { ["LoadBalancer"] = "Random", ["OutlierDetection:ConsecutiveFailures"] = "0" },
            configureClient: Retries, configureReplica: CountRetries);
        app.Replicas[1].Behavior.ErrorRate = 1;

        var (answeredBy, failed) = streaming
            ? await app.StreamAsync(60, new ReplicaRequest { Messages = 2 })
            : await app.UnaryAsync(60);

        Assert.Empty(failed);
        Assert.Equal(60, answeredBy.Count(id => id is "r0" or "r2"));
        Assert.True(app.Replicas[1].RequestCount >= 5, $"the failing replica got {app.Replicas[1].RequestCount} first attempts of 60");
        Assert.Equal(0, RetriesSeenBy(app.Replicas[1]));
        Assert.Equal(app.Replicas[1].RequestCount, RetriesSeenBy(app.Replicas[0]) + RetriesSeenBy(app.Replicas[2]));
    }

    [Fact]
    public async Task A_gRPC_retry_is_charged_to_the_retry_budget_and_a_spent_budget_stops_gRPC_retrying()
    {
        await using var app = await GrpcApp.StartAsync(3, new()
        {
            ["LoadBalancer"] = "Random",
            ["OutlierDetection:ConsecutiveFailures"] = "0",
            ["RetryBudget:RetryRatio"] = "0",
            ["RetryBudget:MinRetriesPerSecond"] = "0",
        }, configureClient: Retries, configureReplica: CountRetries);
        using var exhausted = new MetricCollector<long>(app.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), MeshTelemetry.Name, "mesh.retry_budget.exhausted");
        app.Replicas[1].Behavior.ErrorRate = 1;

        var errors = new List<RpcException>();
        for (var i = 0; i < 60; i++)
        {
            try
            {
                await app.Client.UnaryAsync(new ReplicaRequest(), cancellationToken: GrpcApp.Token);
            }
            catch (RpcException ex)
            {
                errors.Add(ex);
            }
        }

        // Each call that met the failing replica first failed after one attempt: gRPC's retry was refused with
        // UNAVAILABLE and grpc-retry-pushback-ms -1, so grpc-dotnet did not try again.
        Assert.Equal(app.Replicas[1].RequestCount, errors.Count);
        Assert.True(errors.Count >= 5, $"{errors.Count} calls met the failing replica");
        Assert.All(errors, e => Assert.Equal(StatusCode.Unavailable, e.StatusCode));
        Assert.All(errors, e => Assert.Contains("retry budget of mesh service 'catalog' is spent", e.Status.Detail, StringComparison.Ordinal));
        Assert.Empty(_retriesSeen);
        Assert.Equal(60, app.Replicas.Sum(r => r.RequestCount));
        Assert.Equal(errors.Count, exhausted.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task gRPC_hedges_are_retries_for_the_budget_and_a_refused_hedge_does_not_fail_the_call()
    {
        await using var spent = await GrpcApp.StartAsync(3, new()
        {
            ["LoadBalancer"] = "RoundRobin",
            ["RetryBudget:RetryRatio"] = "0",
            ["RetryBudget:MinRetriesPerSecond"] = "0",
        }, configureClient: Hedging, configureReplica: CountRetries);
        using var exhausted = new MetricCollector<long>(spent.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), MeshTelemetry.Name, "mesh.retry_budget.exhausted");

        var (answeredBy, failed) = await spent.UnaryAsync(30);

        Assert.Empty(failed);
        Assert.Equal(30, answeredBy.Count);
        Assert.Empty(_retriesSeen); // no hedge was sent
        Assert.Equal(30, spent.Replicas.Sum(r => r.RequestCount));
        // With a zero hedging delay grpc-dotnet starts up to two hedges per call at once; a call whose primary answered
        // before grpc-dotnet started its last hedge refuses only one (a refused hedge waits for the primary now, so
        // the primary can win that race on a busy machine). Every hedge it did start was refused and counted.
        var refused = exhausted.GetMeasurementSnapshot().Sum(m => m.Value);
        Assert.InRange(refused, 30, 60);

        await using var funded = await GrpcApp.StartAsync(3, new() { ["LoadBalancer"] = "RoundRobin" }, configureClient: Hedging, configureReplica: CountRetries);
        var (fundedAnswers, fundedFailed) = await funded.UnaryAsync(10);

        Assert.Empty(fundedFailed);
        Assert.Equal(10, fundedAnswers.Count);
        Assert.True(funded.Replicas.Sum(RetriesSeenBy) > 0, "with a budget, hedges are sent");
    }
}
