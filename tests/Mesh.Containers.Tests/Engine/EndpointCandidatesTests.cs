using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Engine;

public sealed class EndpointCandidatesTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("mesh-tests-home-").FullName;

    [Fact]
    public void DOCKER_HOST_is_the_only_candidate_when_set()
    {
        var candidates = Get(Env(("DOCKER_HOST", "tcp://127.0.0.1:2375"), ("XDG_RUNTIME_DIR", "/run/user/1000")));

        Assert.Equal([new Uri("tcp://127.0.0.1:2375")], candidates.Select(c => c.Address));
        Assert.Null(candidates[0].Tls);
    }

    [Fact]
    public void Without_DOCKER_HOST_the_default_socket_comes_first_then_rootless_then_podman()
    {
        var candidates = Get(Env(("XDG_RUNTIME_DIR", "/run/user/1000"), ("HOME", "/home/dev"))).Select(c => c.Address).ToList();

        Assert.Equal("unix:///var/run/docker.sock", candidates[0].ToString());
        Assert.Equal("unix:///run/user/1000/docker.sock", candidates[1].ToString());
        Assert.Contains(new Uri("unix:///home/dev/.docker/run/docker.sock"), candidates);
        Assert.Contains(new Uri("unix:///run/user/1000/podman/podman.sock"), candidates);
        Assert.Equal("unix:///run/podman/podman.sock", candidates[^1].ToString());
    }

    [Fact]
    public void A_configured_endpoint_wins_over_DOCKER_HOST_and_is_not_secured_by_the_environment()
    {
        var candidates = Get(Env(("DOCKER_HOST", "tcp://127.0.0.1:2375"), ("DOCKER_TLS_VERIFY", "1")), new DockerEngineOptions { Endpoint = new Uri("tcp://127.0.0.1:2375") });

        Assert.Equal([new Uri("tcp://127.0.0.1:2375")], candidates.Select(c => c.Address));
        Assert.Null(candidates[0].Tls);
    }

    [Fact]
    public void DOCKER_TLS_VERIFY_takes_the_certificates_from_DOCKER_CERT_PATH()
    {
        var candidate = Assert.Single(Get(Env(("DOCKER_HOST", "tcp://docker:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs/client"), ("HOME", _home))));

        Assert.NotNull(candidate.Tls);
        Assert.Equal("/certs/client/ca.pem", candidate.Tls.CaFile);
        Assert.Equal("/certs/client/cert.pem", candidate.Tls.CertFile);
        Assert.Equal("/certs/client/key.pem", candidate.Tls.KeyFile);
        Assert.True(candidate.Tls.Required);
    }

    [Fact]
    public void DOCKER_TLS_VERIFY_without_DOCKER_CERT_PATH_takes_the_certificates_from_the_docker_configuration_directory()
    {
        var candidate = Assert.Single(Get(Env(("DOCKER_HOST", "tcp://docker:2376"), ("DOCKER_TLS_VERIFY", "true"), ("HOME", "/home/dev"))));

        Assert.Equal("/home/dev/.docker/ca.pem", candidate.Tls!.CaFile);
        Assert.Equal("/etc/docker-cli/ca.pem", Assert.Single(Get(Env(("DOCKER_HOST", "tcp://docker:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CONFIG", "/etc/docker-cli"), ("HOME", "/home/dev")))).Tls!.CaFile);
    }

    [Fact]
    public void Tls_options_take_the_place_of_the_environment_and_are_named_as_the_source()
    {
        var candidate = Assert.Single(Get(Env(("HOME", _home)), new DockerEngineOptions { Endpoint = new Uri("tcp://docker:2376"), TlsVerify = true, TlsCertificatePath = "/certs" }));

        Assert.Equal("/certs/cert.pem", candidate.Tls!.CertFile);
        Assert.Contains("DockerEngineOptions.TlsCertificatePath", candidate.Tls.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void DOCKER_TLS_VERIFY_without_DOCKER_HOST_uses_the_docker_default_tls_host()
    {
        var candidate = Assert.Single(Get(Env(("DOCKER_TLS_VERIFY", "1"), ("HOME", _home))));

        Assert.Equal(new Uri("tcp://localhost:2376"), candidate.Address);
        Assert.NotNull(candidate.Tls);
    }

    [Fact]
    public void A_tcp_host_without_a_port_gets_2376_with_tls_and_2375_without()
    {
        Assert.Equal(2376, Assert.Single(Get(Env(("DOCKER_HOST", "tcp://docker"), ("DOCKER_TLS_VERIFY", "1"), ("HOME", _home)))).Address.Port);
        Assert.Equal(2375, Assert.Single(Get(Env(("DOCKER_HOST", "tcp://docker"), ("HOME", _home)))).Address.Port);
    }

    [Fact]
    public void DOCKER_TLS_without_DOCKER_TLS_VERIFY_is_refused_naming_both_variables()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("DOCKER_HOST", "tcp://docker:2376"), ("DOCKER_TLS", "1"))));

        Assert.Contains("DOCKER_TLS=1 without DOCKER_TLS_VERIFY", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_DOCKER_TLS_VERIFY_that_is_not_a_flag_is_refused_with_the_allowed_values()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("DOCKER_HOST", "tcp://docker:2376"), ("DOCKER_TLS_VERIFY", "yes"))));

        Assert.Contains("DOCKER_TLS_VERIFY='yes'", error.Message, StringComparison.Ordinal);
        Assert.Contains("1, true, 0, false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unix_sockets_never_use_tls()
    {
        var candidate = Assert.Single(Get(Env(("DOCKER_HOST", "unix:///var/run/docker.sock"), ("DOCKER_TLS_VERIFY", "1"))));

        Assert.Null(candidate.Tls);
    }

    [Fact]
    public void An_ssh_endpoint_is_refused_with_how_to_forward_the_socket()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("DOCKER_HOST", "ssh://me@host"))));

        Assert.Contains("ssh -nNT -L", error.Message, StringComparison.Ordinal);
        Assert.Contains("supported schemes: unix, tcp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_current_context_of_the_configuration_decides_the_endpoint_and_its_tls_material()
    {
        var store = WriteContext(Path.Combine(_home, ".docker"), "ci", "tcp://docker:2376", withTls: true);
        File.WriteAllText(Path.Combine(store, "config.json"), """{ "auths": {}, "currentContext": "ci" }""");

        var candidate = Assert.Single(Get(Env(("HOME", _home))));

        Assert.Equal(new Uri("tcp://docker:2376"), candidate.Address);
        Assert.Equal("ci", candidate.Context);
        Assert.Equal(Path.Combine(store, "contexts", "tls", DockerContextStore.DirectoryName("ci"), "docker", "ca.pem"), candidate.Tls!.CaFile);
        Assert.False(candidate.Tls.Required);
    }

    [Fact]
    public void DOCKER_CONTEXT_wins_over_the_current_context_and_DOCKER_HOST_wins_over_both()
    {
        var store = WriteContext(Path.Combine(_home, ".docker"), "ci", "tcp://docker:2376", withTls: true);
        WriteContext(store, "other", "unix:///run/other.sock", withTls: false);
        File.WriteAllText(Path.Combine(store, "config.json"), """{ "currentContext": "ci" }""");

        Assert.Equal(new Uri("unix:///run/other.sock"), Assert.Single(Get(Env(("HOME", _home), ("DOCKER_CONTEXT", "other")))).Address);
        Assert.Equal(new Uri("unix:///run/mine.sock"), Assert.Single(Get(Env(("HOME", _home), ("DOCKER_CONTEXT", "other"), ("DOCKER_HOST", "unix:///run/mine.sock")))).Address);
        Assert.Equal(new Uri("unix:///run/other.sock"), Assert.Single(Get(Env(("HOME", _home)), new DockerEngineOptions { Context = "other" })).Address);
    }

    [Fact]
    public void The_default_context_means_the_default_sockets()
    {
        Directory.CreateDirectory(Path.Combine(_home, ".docker"));
        File.WriteAllText(Path.Combine(_home, ".docker", "config.json"), """{ "currentContext": "default" }""");

        Assert.Equal("unix:///var/run/docker.sock", Get(Env(("HOME", _home)))[0].Address.ToString());
    }

    [Fact]
    public void A_tcp_context_without_tls_material_is_plain_tcp_as_with_the_docker_cli()
    {
        WriteContext(Path.Combine(_home, ".docker"), "plain", "tcp://127.0.0.1:2375", withTls: false);

        var candidate = Assert.Single(Get(Env(("HOME", _home), ("DOCKER_CONTEXT", "plain"))));

        Assert.Null(candidate.Tls);
    }

    [Fact]
    public void An_unknown_context_is_reported_with_where_it_was_looked_for()
    {
        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("HOME", _home), ("DOCKER_CONTEXT", "nope"))));

        Assert.Contains("'nope' (DOCKER_CONTEXT) does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_home, ".docker", "contexts", "meta", DockerContextStore.DirectoryName("nope"), "meta.json"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_context_that_skips_tls_verification_is_refused()
    {
        WriteContext(Path.Combine(_home, ".docker"), "insecure", "tcp://docker:2376", withTls: true, skipTlsVerify: true);

        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("HOME", _home), ("DOCKER_CONTEXT", "insecure"))));

        Assert.Contains("SkipTLSVerify", error.Message, StringComparison.Ordinal);
        Assert.Contains("always verifies", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_docker_configuration_is_reported_with_its_path()
    {
        Directory.CreateDirectory(Path.Combine(_home, ".docker"));
        File.WriteAllText(Path.Combine(_home, ".docker", "config.json"), "{ currentContext: ");

        var error = Assert.Throws<DockerEngineUnavailableException>(() => Get(Env(("HOME", _home))));

        Assert.Contains(Path.Combine(_home, ".docker", "config.json"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_context_store_directory_is_the_sha256_of_the_name()
    {
        // As the docker CLI names it: the lowercase hex SHA-256 of the UTF-8 name ("default" is never stored).
        Assert.Equal("37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f", DockerContextStore.DirectoryName("default"));
    }

    [Fact]
    public void Endpoint_and_Context_together_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Get(Env(), new DockerEngineOptions { Endpoint = new Uri("unix:///var/run/docker.sock"), Context = "ci" }));
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    /// <summary>Writes a context the way 'docker context create' stores it; returns the configuration directory.</summary>
    internal static string WriteContext(string configDirectory, string name, string host, bool withTls, bool skipTlsVerify = false, string? tlsFrom = null)
    {
        var hash = DockerContextStore.DirectoryName(name);
        var meta = Path.Combine(configDirectory, "contexts", "meta", hash);
        Directory.CreateDirectory(meta);
        File.WriteAllText(Path.Combine(meta, "meta.json"),
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["Name"] = name,
                ["Metadata"] = new Dictionary<string, string> { ["Description"] = "written by a test" },
                ["Endpoints"] = new Dictionary<string, object> { ["docker"] = new Dictionary<string, object> { ["Host"] = host, ["SkipTLSVerify"] = skipTlsVerify } },
            }));
        if (withTls)
        {
            var tls = Path.Combine(configDirectory, "contexts", "tls", hash, "docker");
            Directory.CreateDirectory(tls);
            foreach (var file in new[] { "ca.pem", "cert.pem", "key.pem" })
            {
                var source = tlsFrom is null ? null : Path.Combine(tlsFrom, file);
                if (source is null)
                {
                    File.WriteAllText(Path.Combine(tls, file), "");
                }
                else if (File.Exists(source))
                {
                    File.Copy(source, Path.Combine(tls, file));
                }
            }
        }

        return configDirectory;
    }

    private static IReadOnlyList<EngineEndpoint> Get(Func<string, string?> environment, DockerEngineOptions? options = null) =>
        EndpointCandidates.Get(options ?? new DockerEngineOptions(), environment);

    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
