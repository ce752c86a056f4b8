using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Engine;

public sealed class PublishedPortHostTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Theory]
    [InlineData("unix:///var/run/docker.sock", "127.0.0.1", "127.0.0.1")]
    [InlineData("tcp://127.0.0.2:2376", "127.0.0.2", "127.0.0.2")]
    [InlineData("tcp://localhost:2376", "127.0.0.1", "127.0.0.1")]
    [InlineData("tcp://docker:2376", "docker", "0.0.0.0")]
    [InlineData("tcp://10.1.2.3:2375", "10.1.2.3", "0.0.0.0")]
    public void LocalEnginesPublishOnLoopbackRemoteOnesOnAllInterfaces(string endpoint, string host, string bindAddress)
    {
        var resolved = PublishedPortHost.Resolve(new Uri(endpoint), null, NoEnvironment);

        Assert.Equal(host, resolved.Host);
        Assert.Equal(bindAddress, resolved.BindAddress);
    }

    [Fact]
    public void OverrideWinsAndOptionsWinOverTheOverride()
    {
        var environment = (string name) => name == "TESTCONTAINERS_HOST_OVERRIDE" ? "172.17.0.1" : null;

        Assert.Equal("172.17.0.1", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, environment).Host);
        Assert.Equal("0.0.0.0", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, environment).BindAddress);
        Assert.Equal("gateway", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), "gateway", environment).Host);
    }

    [Fact]
    public void Ipv6HostsAreBracketedInAddresses()
    {
        var resolved = PublishedPortHost.Resolve(new Uri("tcp://[::1]:2376"), null, NoEnvironment);

        Assert.Equal("::1", resolved.Host);
        Assert.Equal("[::1]", resolved.UriHost);
    }

    [Fact]
    public void PortsOnAnotherLoopbackAddressOfALocalEngineAreReachedThereAndLoopbackPortsOfARemoteEngineNotAtAll()
    {
        var local = PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, NoEnvironment);
        var remote = PublishedPortHost.Resolve(new Uri("tcp://docker:2376"), null, NoEnvironment);

        Assert.Equal("127.0.0.2", local.ReachableHost("127.0.0.2"));
        Assert.Equal("127.0.0.1", local.ReachableHost("0.0.0.0"));
        Assert.Null(remote.ReachableHost("127.0.0.1"));
        Assert.Equal("docker", remote.ReachableHost(""));
    }

    [Fact]
    public void AHostThatIsNotAHostIsRefusedNamingTheVariable()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() =>
            PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, name => name == "TESTCONTAINERS_HOST_OVERRIDE" ? "http://x/" : null));

        Assert.Contains("TESTCONTAINERS_HOST_OVERRIDE", error.Message, StringComparison.Ordinal);
    }
}
