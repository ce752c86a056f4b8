using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Engine;

public sealed class ApiVersionNegotiatorTests
{
    private static readonly Uri s_endpoint = new("unix:///var/run/docker.sock");

    [Theory]
    [InlineData("1.41", "1.41")]
    [InlineData("1.45", "1.45")]
    [InlineData("1.99", "1.52")]
    public void The_highest_version_both_speak_is_chosen(string engine, string expected)
    {
        var version = ApiVersionNegotiator.Negotiate(s_endpoint, engine, DockerEngine.MaximumApiVersion);

        Assert.Equal(Version.Parse(expected), version);
    }

    [Fact]
    public void An_engine_below_api_1_41_is_rejected_naming_both_versions()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => ApiVersionNegotiator.Negotiate(s_endpoint, "1.40", DockerEngine.MaximumApiVersion));

        Assert.Contains("speaks Engine API 1.40", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs 1.41", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_Api_Version_header_is_rejected_naming_the_header()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => ApiVersionNegotiator.Negotiate(s_endpoint, null, DockerEngine.MaximumApiVersion));

        Assert.Contains("Api-Version", error.Message, StringComparison.Ordinal);
    }
}
