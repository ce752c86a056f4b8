namespace Mesh.Containers.Internal;

/// <summary>An endpoint to try, with how it was chosen and how it is secured.</summary>
/// <param name="Address">The endpoint.</param>
/// <param name="Source">What chose it, for messages: <c>DockerEngineOptions.Endpoint</c>, <c>DOCKER_HOST</c>, <c>docker context 'ci'</c>, <c>default</c>.</param>
/// <param name="Tls">Its TLS material, or <see langword="null"/> for a plain connection (sockets, plain TCP).</param>
/// <param name="Context">The docker context it came from, if any.</param>
internal sealed record EngineEndpoint(Uri Address, string Source, EngineTlsSettings? Tls = null, string? Context = null);

/// <summary>Where an engine may listen, in the order they are tried, as the docker CLI decides it.</summary>
internal static class EndpointCandidates
{
    public const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>The docker CLI's default when TLS is asked for and no host is given.</summary>
    public static readonly Uri DefaultTlsEndpoint = new("tcp://localhost:2376");

    /// <summary>
    /// Lists the endpoints to try:
    /// <list type="number">
    /// <item><see cref="DockerEngineOptions.Endpoint"/>, when set, alone, secured by the options only;</item>
    /// <item><c>DOCKER_HOST</c>, when set, alone, secured by <c>DOCKER_TLS_VERIFY</c> and <c>DOCKER_CERT_PATH</c>;</item>
    /// <item>the current docker context (<see cref="DockerEngineOptions.Context"/>, <c>DOCKER_CONTEXT</c>, <c>currentContext</c> of
    /// <c>config.json</c>) unless it is <c>default</c>: its endpoint and TLS material;</item>
    /// <item><c>tcp://localhost:2376</c> when <c>DOCKER_TLS_VERIFY</c> is set (the CLI's default TLS host);</item>
    /// <item>otherwise the local sockets: Docker, rootless Docker, Docker Desktop, Podman.</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<EngineEndpoint> Get(DockerEngineOptions options, Func<string, string?> environment)
    {
        if (options.Endpoint is not null)
        {
            if (options.Context is not null)
            {
                throw new ArgumentException(
                    $"DockerEngineOptions.Endpoint ('{options.Endpoint}') and DockerEngineOptions.Context ('{options.Context}') are both set; set only one (as with docker --host and --context).",
                    nameof(options));
            }

            var uri = Normalize(options.Endpoint, "DockerEngineOptions.Endpoint");
            return [WithTls(uri, "DockerEngineOptions.Endpoint", options.TlsVerify ?? false, options, environment)];
        }

        var tlsVerify = options.TlsVerify ?? EngineVariables.GetFlag(environment, EngineVariables.DockerTlsVerify);
        if (EngineVariables.Get(environment, EngineVariables.DockerHost) is { } dockerHost)
        {
            var uri = Parse(dockerHost, EngineVariables.DockerHost);
            return [WithTls(uri, EngineVariables.DockerHost, tlsVerify, options, environment)];
        }

        if (SelectContext(options, environment) is { } context)
        {
            return [context];
        }

        if (tlsVerify)
        {
            return [WithTls(DefaultTlsEndpoint, $"{EngineVariables.DockerTlsVerify} without {EngineVariables.DockerHost}", true, options, environment)];
        }

        var list = new List<Uri> { UnixUri(DefaultSocket) };
        var runtimeDir = EngineVariables.Get(environment, "XDG_RUNTIME_DIR");
        if (runtimeDir is not null)
        {
            list.Add(UnixUri(Path.Combine(runtimeDir, "docker.sock")));
        }

        if (EngineVariables.Get(environment, "HOME") is { } home)
        {
            list.Add(UnixUri(Path.Combine(home, ".docker", "run", "docker.sock")));
            list.Add(UnixUri(Path.Combine(home, ".docker", "desktop", "docker.sock")));
        }

        if (runtimeDir is not null)
        {
            list.Add(UnixUri(Path.Combine(runtimeDir, "podman", "podman.sock")));
        }

        list.Add(UnixUri("/run/podman/podman.sock"));
        return list.Distinct().Select(u => new EngineEndpoint(u, "default")).ToArray();
    }

    public static Uri UnixUri(string path) => new("unix://" + path);

    /// <summary>Whether the endpoint is a socket on this machine (no TLS, ports published on loopback).</summary>
    public static bool IsSocket(Uri endpoint) => endpoint.Scheme is "unix" or "npipe";

    private static EngineEndpoint? SelectContext(DockerEngineOptions options, Func<string, string?> environment)
    {
        var configDirectory = EngineVariables.ConfigDirectory(environment);
        var store = configDirectory is null ? null : new DockerContextStore(configDirectory);
        string? name;
        string selectedBy;
        if (options.Context is { } configured)
        {
            (name, selectedBy) = (configured, "DockerEngineOptions.Context");
        }
        else if (EngineVariables.Get(environment, EngineVariables.DockerContext) is { } fromEnvironment)
        {
            (name, selectedBy) = (fromEnvironment, EngineVariables.DockerContext);
        }
        else
        {
            (name, selectedBy) = (store?.ReadCurrentContext(), $"currentContext in {store?.ConfigFile}");
        }

        if (string.IsNullOrWhiteSpace(name) || name == DockerContextStore.DefaultContext)
        {
            return null;
        }

        if (store is null)
        {
            throw new DockerEngineUnavailableException(
                $"The docker context '{name}' ({selectedBy}) cannot be read: neither {EngineVariables.DockerConfig} nor HOME is set, so there is no context store.", []);
        }

        var context = store.Load(name, selectedBy);
        var source = $"docker context '{name}' ({selectedBy})";
        var uri = Normalize(context.Host, source);
        if (IsSocket(uri))
        {
            return new EngineEndpoint(uri, source, null, name);
        }

        if (context.SkipTlsVerify)
        {
            throw new DockerEngineUnavailableException(
                $"The {source} sets SkipTLSVerify in {context.MetaFile}: Mesh.Containers always verifies the engine's certificate. " +
                $"Put the engine's CA in {Path.Combine(context.TlsDirectory, "ca.pem")} (docker context update {name} --docker \"host={context.Host},ca=...,cert=...,key=...\").",
                [uri]);
        }

        // As the docker CLI: a TCP context uses TLS when it has TLS material, and plain TCP when it has none.
        var tls = Directory.Exists(context.TlsDirectory) ? new EngineTlsSettings(context.TlsDirectory, source, Required: false) : null;
        if (tls is null && uri.Scheme == "https")
        {
            tls = new EngineTlsSettings(context.TlsDirectory, source, Required: false);
        }

        return new EngineEndpoint(uri, source, tls, name);
    }

    private static EngineEndpoint WithTls(Uri uri, string source, bool tlsVerify, DockerEngineOptions options, Func<string, string?> environment)
    {
        if (IsSocket(uri))
        {
            return new EngineEndpoint(uri, source);
        }

        if (uri.Scheme == "tcp" && uri.Port < 0)
        {
            // As the docker CLI: tcp://host means port 2376 with TLS, 2375 without.
            uri = new UriBuilder(uri) { Port = tlsVerify ? 2376 : 2375 }.Uri;
        }

        if (uri.Scheme == "http" || (!tlsVerify && uri.Scheme != "https"))
        {
            if (options.Endpoint is null && EngineVariables.GetFlag(environment, EngineVariables.DockerTls))
            {
                throw new DockerEngineUnavailableException(
                    $"{EngineVariables.DockerTls}=1 without {EngineVariables.DockerTlsVerify} asks for TLS without verifying the engine's certificate; " +
                    $"Mesh.Containers always verifies it: set {EngineVariables.DockerTlsVerify}=1 and put the engine's CA, this client's certificate and key in " +
                    $"{EngineVariables.DockerCertPath} (ca.pem, cert.pem, key.pem).", [uri]);
            }

            return new EngineEndpoint(uri, source);
        }

        string directory;
        string where;
        if (options.TlsCertificatePath is { } configured)
        {
            (directory, where) = (configured, $"DockerEngineOptions.TlsCertificatePath={configured}");
        }
        else if (EngineVariables.Get(environment, EngineVariables.DockerCertPath) is { } certPath)
        {
            (directory, where) = (certPath, $"{EngineVariables.DockerCertPath}={certPath}");
        }
        else
        {
            directory = EngineVariables.ConfigDirectory(environment) ?? throw new DockerEngineUnavailableException(
                $"TLS for the engine at {uri}: {EngineVariables.DockerCertPath} is not set and there is no HOME to default to ~/.docker; set {EngineVariables.DockerCertPath} to the directory holding ca.pem, cert.pem and key.pem.", [uri]);
            where = $"{directory} ({EngineVariables.DockerCertPath} is not set)";
        }

        return new EngineEndpoint(uri, source, new EngineTlsSettings(directory, where, Required: true));
    }

    private static Uri Parse(string value, string source)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new DockerEngineUnavailableException(
                $"{source}='{value}' is not an absolute address; expected for example unix:///var/run/docker.sock or tcp://127.0.0.1:2375.", []);
        }

        return Normalize(uri, source);
    }

    private static Uri Normalize(Uri uri, string source) => uri.Scheme switch
    {
        "unix" or "tcp" or "http" or "https" or "npipe" => uri,
        "ssh" => throw new DockerEngineUnavailableException(
            $"The engine endpoint '{uri}' ({source}) is an ssh endpoint, which Mesh.Containers does not support (the docker CLI runs 'ssh ... docker system dial-stdio' for it). " +
            "Forward the engine's socket instead, for example 'ssh -nNT -L /tmp/engine.sock:/var/run/docker.sock user@host', and use unix:///tmp/engine.sock; supported schemes: unix, tcp, http, https, npipe.", [uri]),
        _ => throw new DockerEngineUnavailableException(
            $"The engine endpoint '{uri}' ({source}) has the scheme '{uri.Scheme}'; supported schemes: unix, tcp, http, https, npipe.", [uri]),
    };
}
