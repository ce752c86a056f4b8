using System.Text;
using Mesh.Discovery.Etcd.Internal;

namespace Mesh.Discovery.Tests.Etcd;

public sealed class EtcdEndpointRecordTests
{
    private static (MeshEndpoint? Endpoint, string? Reason) Parse(string json)
    {
        var ok = EtcdEndpointRecord.TryParse(Encoding.UTF8.GetBytes(json), out var endpoint, out var reason);
        Assert.Equal(ok, endpoint is not null);
        return (endpoint, reason);
    }

    [Fact]
    public void A_full_entry_parses()
    {
        var (endpoint, _) = Parse("""{"Address": "http://10.0.0.5:8080", "Weight": 3, "Zone": "eu-1a", "Metadata": {"version": "v1"}}""");

        Assert.Equal("http://10.0.0.5:8080", endpoint!.Key);
        Assert.Equal(3, endpoint.Weight);
        Assert.Equal("eu-1a", endpoint.Zone);
        Assert.Equal("v1", endpoint.Metadata["version"]);
    }

    [Fact]
    public void Only_the_address_is_required_and_names_match_case_insensitively()
    {
        var (endpoint, _) = Parse("""{"address": "https://svc.internal:9443", "extra": true}""");

        Assert.Equal("https://svc.internal:9443", endpoint!.Key);
        Assert.Equal(1, endpoint.Weight);
        Assert.Null(endpoint.Zone);
    }

    [Theory]
    [InlineData("{not json", "not a JSON object")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("null", "no \"Address\"")]
    [InlineData("""{"Weight": 2}""", "no \"Address\"")]
    [InlineData("""{"Address": "http://10.0.0.5:8080", "Weight": 0}""", "positive integer")]
    [InlineData("""{"Address": "http://10.0.0.5:8080", "Weight": "2"}""", "not a JSON object")]
    [InlineData("""{"Address": "10.0.0.5:8080"}""", "scheme")]
    [InlineData("""{"Address": "http://10.0.0.5:8080/api"}""", "path")]
    [InlineData("""{"Address": "http://10.0.0.5:8080", "Metadata": {"n": 1}}""", "not a JSON object")]
    public void A_malformed_entry_is_refused_with_a_reason(string json, string reason)
    {
        var (endpoint, why) = Parse(json);

        Assert.Null(endpoint);
        Assert.Contains(reason, why, StringComparison.Ordinal);
    }

    [Fact]
    public void What_registration_writes_reads_back_the_same()
    {
        var json = EtcdEndpointRecord.Serialize(new EtcdEndpointRecord { Address = "http://10.0.0.5:8080", Weight = 2, Metadata = new() { ["v"] = "2" } });

        Assert.Equal("""{"Address":"http://10.0.0.5:8080","Weight":2,"Metadata":{"v":"2"}}""", Encoding.UTF8.GetString(json));
        Assert.True(EtcdEndpointRecord.TryParse(json, out var endpoint, out _));
        Assert.Equal(new MeshEndpoint("http://10.0.0.5:8080", 2, null, new Dictionary<string, string> { ["v"] = "2" }), endpoint);
    }

    [Fact]
    public void The_prefix_range_end_is_the_prefix_with_its_last_byte_incremented()
    {
        Assert.Equal("/mesh/services/a0", EtcdConnection.PrefixEnd("/mesh/services/a/").ToStringUtf8());
    }
}
