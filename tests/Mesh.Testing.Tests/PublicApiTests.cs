using Mesh.Tests.TestSupport;

namespace Mesh.Testing.Tests;

/// <summary>What Mesh.Testing's public API exposes: the BCL, Microsoft.Extensions.*, ASP.NET Core (replicas run on
/// Kestrel), xunit (the fixtures), gRPC's own API (the replica's gRPC service: its generated messages and client, and
/// the status it fails calls with, are the protocol's types) and Mesh SDK's own packages — never a third-party type
/// such as HdrHistogram's.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void The_public_api_exposes_no_third_party_type()
    {
        PublicApiSurface.AssertExposesOnly(typeof(TrafficDriver).Assembly, a =>
            a.StartsWith("Mesh.", StringComparison.Ordinal)
            || a == "Microsoft.AspNetCore" || a.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal)
            || a.StartsWith("xunit.", StringComparison.Ordinal)
            || a is "Grpc.Core.Api" or "Google.Protobuf");
    }

    [Fact]
    public void The_result_types_of_a_traffic_run_are_plain_classes_without_record_members()
    {
        Type[] results = [typeof(ReplicaChange), typeof(LatencySummary), typeof(TrafficFailure), typeof(ReplicaTraffic), typeof(TrafficWindow)];

        Assert.All(results, t =>
        {
            Assert.True(t.IsSealed && t.IsClass, t.Name);
            Assert.Null(t.GetMethod("<Clone>$"));
            Assert.Null(t.GetMethod("Deconstruct"));
            Assert.Null(t.GetMethod("op_Equality"));
        });
    }
}
