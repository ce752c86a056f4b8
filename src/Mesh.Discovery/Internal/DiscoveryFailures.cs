using System.Net.Sockets;
using DnsClient;
using Grpc.Core;

namespace Mesh.Discovery.Internal;

/// <summary>Which failures of a registry or DNS server are expected (reported by their message, no stack trace).</summary>
internal static class DiscoveryFailures
{
    /// <summary>Network, protocol and timeout failures, and the providers' own discovery exceptions.</summary>
    public static bool IsExpected(Exception error) => error is MeshDiscoveryException or RpcException or HttpRequestException
        or IOException or SocketException or TimeoutException or OperationCanceledException or DnsResponseException;
}
