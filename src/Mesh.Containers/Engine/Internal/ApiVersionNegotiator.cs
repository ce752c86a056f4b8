using System.Globalization;

namespace Mesh.Containers.Internal;

/// <summary>Picks the Engine API version to speak from the engine's <c>Api-Version</c> header.</summary>
internal static class ApiVersionNegotiator
{
    /// <summary>Returns the highest version both sides speak.</summary>
    /// <exception cref="DockerEngineUnavailableException">The engine is older than <see cref="DockerEngine.MinimumApiVersion"/>.</exception>
    public static Version Negotiate(Uri endpoint, string? engineHeader, Version clientMaximum)
    {
        if (string.IsNullOrWhiteSpace(engineHeader) || !TryParse(engineHeader, out var engine))
        {
            // Engines before API 1.25 send no header; treat a missing one as too old to be safe.
            throw new DockerEngineUnavailableException(
                $"The engine at {endpoint} did not say which API version it speaks (no usable Api-Version header on GET /_ping, got '{engineHeader}'). " +
                $"Mesh.Containers needs Engine API {DockerEngine.MinimumApiVersion} (Docker 20.10) or newer.", [endpoint]);
        }

        if (engine < DockerEngine.MinimumApiVersion)
        {
            throw new DockerEngineUnavailableException(
                $"The engine at {endpoint} speaks Engine API {engine}; Mesh.Containers needs {DockerEngine.MinimumApiVersion} (Docker 20.10) or newer. Upgrade the engine.", [endpoint]);
        }

        return engine < clientMaximum ? engine : clientMaximum;
    }

    public static bool TryParse(string text, out Version version)
    {
        var parts = text.Trim().Split('.');
        if (parts.Length == 2 &&
            int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) &&
            int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            version = new Version(major, minor);
            return true;
        }

        version = new Version(0, 0);
        return false;
    }
}
