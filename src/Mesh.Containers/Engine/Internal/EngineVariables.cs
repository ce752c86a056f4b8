namespace Mesh.Containers.Internal;

/// <summary>The environment variables Mesh.Containers reads: the docker CLI's, and Testcontainers' where they mean the same.</summary>
internal static class EngineVariables
{
    public const string DockerHost = "DOCKER_HOST";
    public const string DockerTlsVerify = "DOCKER_TLS_VERIFY";
    public const string DockerTls = "DOCKER_TLS";
    public const string DockerCertPath = "DOCKER_CERT_PATH";
    public const string DockerConfig = "DOCKER_CONFIG";
    public const string DockerContext = "DOCKER_CONTEXT";
    public const string DockerApiVersion = "DOCKER_API_VERSION";
    public const string HostOverride = "TESTCONTAINERS_HOST_OVERRIDE";
    public const string SocketOverride = "TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE";

    /// <summary>The value of a variable, or <see langword="null"/> when it is unset or blank.</summary>
    public static string? Get(Func<string, string?> environment, string name) =>
        environment(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    /// <summary>A boolean variable: <c>1</c>/<c>true</c> or <c>0</c>/<c>false</c> (as Testcontainers reads them); unset is <see langword="false"/>.</summary>
    public static bool GetFlag(Func<string, string?> environment, string name)
    {
        var value = Get(environment, name);
        if (value is null || value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        throw new DockerEngineUnavailableException($"{name}='{value}' is not a flag; allowed values: 1, true, 0, false (or unset).", []);
    }

    /// <summary>The docker CLI's configuration directory: <c>DOCKER_CONFIG</c>, else <c>~/.docker</c>.</summary>
    public static string? ConfigDirectory(Func<string, string?> environment)
    {
        if (Get(environment, DockerConfig) is { } configured)
        {
            return configured;
        }

        return Get(environment, "HOME") is { } home ? Path.Combine(home, ".docker") : null;
    }

    public static Version? ApiVersion(Func<string, string?> environment)
    {
        if (Get(environment, DockerApiVersion) is not { } text)
        {
            return null;
        }

        return ApiVersionNegotiator.TryParse(text, out var version)
            ? version
            : throw new DockerEngineUnavailableException(
                $"{DockerApiVersion}='{text}' is not an Engine API version; expected major.minor, for example 1.41.", []);
    }
}
