using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Mesh.Containers.Internal;

/// <summary>One context of the docker CLI's context store: where its engine listens and where its TLS material lies.</summary>
/// <param name="Name">The context name.</param>
/// <param name="Host">The engine endpoint (<c>Endpoints.docker.Host</c>).</param>
/// <param name="SkipTlsVerify">Whether the context asks not to verify the engine's certificate.</param>
/// <param name="MetaFile">The context's <c>meta.json</c>.</param>
/// <param name="TlsDirectory">Where the context keeps <c>ca.pem</c>, <c>cert.pem</c> and <c>key.pem</c> (it may not exist).</param>
internal sealed record DockerContext(string Name, Uri Host, bool SkipTlsVerify, string MetaFile, string TlsDirectory);

/// <summary>
/// Reads the docker CLI's context store the way the CLI does: the current context is <c>DOCKER_CONTEXT</c>, else
/// <c>currentContext</c> of <c>config.json</c>; a context lives in <c>contexts/meta/&lt;sha256(name)&gt;/meta.json</c>
/// and its TLS material in <c>contexts/tls/&lt;sha256(name)&gt;/docker/</c>, both under the configuration directory
/// (<c>DOCKER_CONFIG</c>, else <c>~/.docker</c>).
/// </summary>
internal sealed class DockerContextStore(string configDirectory)
{
    /// <summary>The name of the context that means "DOCKER_HOST or the default socket".</summary>
    public const string DefaultContext = "default";

    public string ConfigDirectory { get; } = configDirectory;

    public string ConfigFile => Path.Combine(ConfigDirectory, "config.json");

    /// <summary><c>currentContext</c> of <c>config.json</c>, or <see langword="null"/> when the file or the property is missing.</summary>
    public string? ReadCurrentContext()
    {
        string text;
        try
        {
            text = File.ReadAllText(ConfigFile);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DockerEngineUnavailableException($"The docker CLI configuration {ConfigFile} could not be read: {e.Message}", [], e);
        }

        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            return document.RootElement.ValueKind == JsonValueKind.Object &&
                   document.RootElement.TryGetProperty("currentContext", out var current) &&
                   current.ValueKind == JsonValueKind.String &&
                   current.GetString() is { Length: > 0 } name
                ? name
                : null;
        }
        catch (JsonException e)
        {
            throw new DockerEngineUnavailableException($"The docker CLI configuration {ConfigFile} is not valid JSON ({e.Message}), so its currentContext cannot be read.", [], e);
        }
    }

    /// <summary>Loads a context by name.</summary>
    /// <param name="name">The context name.</param>
    /// <param name="selectedBy">How it was selected, for messages (for example <c>DOCKER_CONTEXT</c>).</param>
    /// <exception cref="DockerEngineUnavailableException">The context does not exist or its metadata is unusable.</exception>
    public DockerContext Load(string name, string selectedBy)
    {
        var directory = DirectoryName(name);
        var metaFile = Path.Combine(ConfigDirectory, "contexts", "meta", directory, "meta.json");
        string text;
        try
        {
            text = File.ReadAllText(metaFile);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DockerEngineUnavailableException(
                $"The docker context '{name}' ({selectedBy}) does not exist: {metaFile} was not found. " +
                $"List contexts with 'docker context ls'; select one with DOCKER_CONTEXT or 'docker context use'.", [], e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DockerEngineUnavailableException($"The docker context '{name}' ({selectedBy}) could not be read from {metaFile}: {e.Message}", [], e);
        }

        string? host;
        var skipTlsVerify = false;
        try
        {
            using var document = JsonDocument.Parse(text);
            var docker = document.RootElement.ValueKind == JsonValueKind.Object &&
                         document.RootElement.TryGetProperty("Endpoints", out var endpoints) && endpoints.ValueKind == JsonValueKind.Object &&
                         endpoints.TryGetProperty("docker", out var d) && d.ValueKind == JsonValueKind.Object
                ? d
                : default;
            host = docker.ValueKind == JsonValueKind.Object && docker.TryGetProperty("Host", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
            if (docker.ValueKind == JsonValueKind.Object && docker.TryGetProperty("SkipTLSVerify", out var skip))
            {
                skipTlsVerify = skip.ValueKind == JsonValueKind.True;
            }
        }
        catch (JsonException e)
        {
            throw new DockerEngineUnavailableException($"The docker context '{name}' ({selectedBy}): {metaFile} is not valid JSON ({e.Message}).", [], e);
        }

        if (string.IsNullOrWhiteSpace(host) || !Uri.TryCreate(host.Trim(), UriKind.Absolute, out var uri))
        {
            throw new DockerEngineUnavailableException(
                $"The docker context '{name}' ({selectedBy}) has no usable engine address in {metaFile} (Endpoints.docker.Host is '{host}'); " +
                "expected for example unix:///var/run/docker.sock or tcp://docker:2376.", []);
        }

        var tlsDirectory = Path.Combine(ConfigDirectory, "contexts", "tls", directory, "docker");
        return new DockerContext(name, uri, skipTlsVerify, metaFile, tlsDirectory);
    }

    /// <summary>The store's directory name for a context: the lowercase hex SHA-256 of its name.</summary>
    public static string DirectoryName(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));
}
