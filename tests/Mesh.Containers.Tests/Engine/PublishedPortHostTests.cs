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
    public void Local_engines_publish_on_loopback_remote_ones_on_all_interfaces(string endpoint, string host, string bindAddress)
    {
        var resolved = PublishedPortHost.Resolve(new Uri(endpoint), null, NoEnvironment);

        Assert.Equal(host, resolved.Host);
        Assert.Equal(bindAddress, resolved.BindAddress);
    }

    [Fact]
    public void The_host_override_wins_and_options_win_over_the_override()
    {
        var environment = (string name) => name == "TESTCONTAINERS_HOST_OVERRIDE" ? "172.17.0.1" : null;

        Assert.Equal("172.17.0.1", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, environment).Host);
        Assert.Equal("0.0.0.0", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, environment).BindAddress);
        Assert.Equal("gateway", PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), "gateway", environment).Host);
    }

    [Fact]
    public void Ipv6_hosts_are_bracketed_in_addresses()
    {
        var resolved = PublishedPortHost.Resolve(new Uri("tcp://[::1]:2376"), null, NoEnvironment);

        Assert.Equal("::1", resolved.Host);
        Assert.Equal("[::1]", resolved.UriHost);
    }

    [Fact]
    public void Ports_on_another_loopback_address_of_a_local_engine_are_reached_there_and_loopback_ports_of_a_remote_engine_not_at_all()
    {
        var local = PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, NoEnvironment);
        var remote = PublishedPortHost.Resolve(new Uri("tcp://docker:2376"), null, NoEnvironment);

        Assert.Equal("127.0.0.2", local.ReachableHost("127.0.0.2"));
        Assert.Equal("127.0.0.1", local.ReachableHost("0.0.0.0"));
        Assert.Null(remote.ReachableHost("127.0.0.1"));
        Assert.Equal("docker", remote.ReachableHost(""));
    }

    [Fact]
    public void A_host_override_that_is_not_a_host_is_refused_naming_the_variable()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() =>
            PublishedPortHost.Resolve(new Uri("unix:///var/run/docker.sock"), null, name => name == "TESTCONTAINERS_HOST_OVERRIDE" ? "http://x/" : null));

        Assert.Contains("TESTCONTAINERS_HOST_OVERRIDE", error.Message, StringComparison.Ordinal);
    }
}
