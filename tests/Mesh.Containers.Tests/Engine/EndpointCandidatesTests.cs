using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Engine;

public sealed class EndpointCandidatesTests
{
    [Fact]
    public void DockerHostIsTheOnlyCandidateWhenSet()
    {
        var candidates = EndpointCandidates.Get(null, Env(("DOCKER_HOST", "tcp://127.0.0.1:2375"), ("XDG_RUNTIME_DIR", "/run/user/1000")));

        Assert.Equal([new Uri("tcp://127.0.0.1:2375")], candidates);
    }

    [Fact]
    public void WithoutDockerHostTheDefaultSocketComesFirstThenRootlessThenPodman()
    {
        var candidates = EndpointCandidates.Get(null, Env(("XDG_RUNTIME_DIR", "/run/user/1000"), ("HOME", "/home/dev")));

        Assert.Equal("unix:///var/run/docker.sock", candidates[0].ToString());
        Assert.Equal("unix:///run/user/1000/docker.sock", candidates[1].ToString());
        Assert.Contains(new Uri("unix:///home/dev/.docker/run/docker.sock"), candidates);
        Assert.Contains(new Uri("unix:///run/user/1000/podman/podman.sock"), candidates);
        Assert.Equal("unix:///run/podman/podman.sock", candidates[^1].ToString());
    }

    [Fact]
    public void ConfiguredEndpointWinsOverDockerHost()
    {
        var candidates = EndpointCandidates.Get(new Uri("unix:///tmp/engine.sock"), Env(("DOCKER_HOST", "tcp://127.0.0.1:2375")));

        Assert.Equal([new Uri("unix:///tmp/engine.sock")], candidates);
    }

    [Fact]
    public void SshEndpointIsRejectedWithTheSupportedSchemes()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => EndpointCandidates.Get(null, Env(("DOCKER_HOST", "ssh://me@host"))));

        Assert.Contains("unix, tcp", error.Message, StringComparison.Ordinal);
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
