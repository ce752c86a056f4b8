namespace Mesh.Containers.Internal;

/// <summary>Where an engine may listen, in the order they are tried.</summary>
internal static class EndpointCandidates
{
    public const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>Lists the endpoints to try. <c>DOCKER_HOST</c>, when set, is the only one (as with the docker CLI).</summary>
    public static IReadOnlyList<Uri> Get(Uri? configured, Func<string, string?> environment)
    {
        if (configured is not null)
        {
            return [Normalize(configured)];
        }

        var dockerHost = environment("DOCKER_HOST");
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            return [Parse(dockerHost.Trim(), "DOCKER_HOST")];
        }

        var list = new List<Uri> { UnixUri(DefaultSocket) };
        var runtimeDir = environment("XDG_RUNTIME_DIR");
        if (!string.IsNullOrWhiteSpace(runtimeDir))
        {
            list.Add(UnixUri(Path.Combine(runtimeDir, "docker.sock")));
        }

        var home = environment("HOME");
        if (!string.IsNullOrWhiteSpace(home))
        {
            list.Add(UnixUri(Path.Combine(home, ".docker", "run", "docker.sock")));
            list.Add(UnixUri(Path.Combine(home, ".docker", "desktop", "docker.sock")));
        }

        if (!string.IsNullOrWhiteSpace(runtimeDir))
        {
            list.Add(UnixUri(Path.Combine(runtimeDir, "podman", "podman.sock")));
        }

        list.Add(UnixUri("/run/podman/podman.sock"));
        return list.Distinct().ToArray();
    }

    public static Uri UnixUri(string path) => new("unix://" + path);

    private static Uri Parse(string value, string source)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new DockerEngineUnavailableException(
                $"{source}='{value}' is not an absolute address; expected for example unix:///var/run/docker.sock or tcp://127.0.0.1:2375.", []);
        }

        return Normalize(uri);
    }

    private static Uri Normalize(Uri uri) => uri.Scheme switch
    {
        "unix" or "tcp" or "http" => uri,
        "npipe" => uri,
        _ => throw new DockerEngineUnavailableException(
            $"The engine endpoint '{uri}' has the scheme '{uri.Scheme}'; supported schemes: unix, tcp, http (ssh and TLS endpoints are not supported).", [uri]),
    };
}
