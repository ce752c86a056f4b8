using System.Net;

namespace Mesh.Containers.Internal;

/// <summary>
/// Where published container ports are reached, and the host address the engine binds them to.
/// A local engine (a socket, or TCP on a loopback address) publishes on that loopback address only;
/// a remote engine publishes on all of its interfaces and its ports are reached on its host name.
/// </summary>
/// <param name="Host">The host published ports are reached on, for example <c>127.0.0.1</c> or <c>docker</c>.</param>
/// <param name="BindAddress">The <c>HostIp</c> of port bindings: a loopback address, or <c>0.0.0.0</c> for a remote engine.</param>
/// <param name="Source">Why, for logs: <c>TESTCONTAINERS_HOST_OVERRIDE</c>, the endpoint, or the local default.</param>
internal sealed record PublishedPortHost(string Host, string BindAddress, string Source)
{
    public const string Loopback = "127.0.0.1";
    public const string AllInterfaces = "0.0.0.0";

    public static PublishedPortHost Resolve(Uri endpoint, string? configured, Func<string, string?> environment)
    {
        if (configured is not null)
        {
            return From(configured, "DockerEngineOptions.PublishedPortHost");
        }

        if (EngineVariables.Get(environment, EngineVariables.HostOverride) is { } overridden)
        {
            return From(overridden, EngineVariables.HostOverride);
        }

        return EndpointCandidates.IsSocket(endpoint)
            ? new PublishedPortHost(Loopback, Loopback, "local engine")
            : From(endpoint.IdnHost, $"the engine's host ({endpoint})");
    }

    /// <summary>Whether a binding the engine reports is one of ours: on <see cref="BindAddress"/> or on all interfaces.</summary>
    public bool Matches(string? hostIp) =>
        string.IsNullOrEmpty(hostIp) || hostIp == AllInterfaces || hostIp == "::" || hostIp == BindAddress;

    /// <summary>The host part of a URI: IPv6 addresses in brackets.</summary>
    public string UriHost => ForUri(Host);

    /// <summary>Where a port the engine published on <paramref name="hostIp"/> is reached from here, in URI form, or
    /// <see langword="null"/> when it cannot be (a loopback binding of a remote engine). Ports on all interfaces are reached on
    /// <see cref="Host"/>; ports on a specific address (another loopback address of a local engine, for one) on that address.</summary>
    public string? ReachableHost(string? hostIp)
    {
        if (string.IsNullOrEmpty(hostIp) || hostIp == AllInterfaces || hostIp == "::")
        {
            return UriHost;
        }

        if (!IPAddress.TryParse(hostIp, out var address))
        {
            return null;
        }

        var local = BindAddress != AllInterfaces;
        return IPAddress.IsLoopback(address) && !local ? null : ForUri(address.ToString());
    }

    private static string ForUri(string host) =>
        IPAddress.TryParse(host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;

    private static PublishedPortHost From(string host, string source)
    {
        host = host.Trim().TrimStart('[').TrimEnd(']');
        if (host.Length == 0 || host.Contains('/', StringComparison.Ordinal) || host.Contains(' ', StringComparison.Ordinal))
        {
            throw new DockerEngineUnavailableException($"{source} is '{host}'; expected a host name or IP address, for example docker or 10.0.0.5.", []);
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new PublishedPortHost(Loopback, Loopback, source);
        }

        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address)
            ? new PublishedPortHost(address.ToString(), address.ToString(), source)
            : new PublishedPortHost(host, AllInterfaces, source);
    }
}
