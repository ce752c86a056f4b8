using System.Diagnostics.CodeAnalysis;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Mesh.Discovery.Etcd.Internal;

/// <summary>Parses <c>Mesh:Discovery:Etcd:Endpoints</c>.</summary>
internal static class EtcdEndpointList
{
    public static bool TryParse(string? value, out Uri[] endpoints, [NotNullWhen(false)] out string? error)
    {
        var list = new List<Uri>();
        error = null;
        foreach (var item in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(item, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.AbsolutePath != "/")
            {
                error = $"'{item}' is not an etcd client URL; expected http(s)://host:port, for example http://127.0.0.1:2379 (comma-separated for a cluster).";
                endpoints = [];
                return false;
            }

            list.Add(uri);
        }

        endpoints = [.. list];
        return true;
    }
}

/// <summary>The etcd clients of one attempt, and which cluster member they talk to.</summary>
internal readonly record struct EtcdClients(KV.KVClient Kv, Watch.WatchClient Watch, Lease.LeaseClient Lease, int Index, Uri Endpoint);

/// <summary>
/// The gRPC channels to the etcd cluster, shared by the etcd provider and self-registration. Uses the protocol
/// clients generated in dotnet-etcd (KV, Watch, Lease) directly, to control revisions, deadlines and streams.
/// One member is used at a time; a caller that saw it fail moves everyone to the next. Channels are created on
/// first use.
/// </summary>
internal sealed class EtcdConnection : IDisposable
{
    private readonly Uri[] _endpoints;
    private readonly GrpcChannel?[] _channels;
    private readonly Lock _lock = new();
    private int _current;
    private bool _disposed;

    public EtcdConnection(EtcdDiscoveryOptions options)
    {
        EtcdEndpointList.TryParse(options.Endpoints, out _endpoints, out _);
        _channels = new GrpcChannel?[_endpoints.Length];
        Prefix = options.Prefix;
        RequestTimeout = options.RequestTimeout;
        Backoff = new Mesh.Discovery.Internal.RetryBackoff(options.RetryBaseDelay, options.RetryMaxDelay);
    }

    public string Prefix { get; }

    public TimeSpan RequestTimeout { get; }

    public Mesh.Discovery.Internal.RetryBackoff Backoff { get; }

    public DateTime Deadline => DateTime.UtcNow + RequestTimeout;

    public EtcdClients Get()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_endpoints.Length == 0)
            {
                throw new InvalidOperationException("Mesh:Discovery:Etcd:Endpoints is not set; set it to the etcd client URLs, for example http://127.0.0.1:2379.");
            }

            var index = _current;
            var channel = _channels[index] ??= CreateChannel(_endpoints[index]);
            return new EtcdClients(new KV.KVClient(channel), new Watch.WatchClient(channel), new Lease.LeaseClient(channel), index, _endpoints[index]);
        }
    }

    /// <summary>Moves to the next cluster member, unless someone else did already.</summary>
    public void OnFailure(in EtcdClients failed)
    {
        lock (_lock)
        {
            if (_current == failed.Index && _endpoints.Length > 1)
            {
                _current = (failed.Index + 1) % _endpoints.Length;
            }
        }
    }

    public static ByteString Key(string key) => ByteString.CopyFromUtf8(key);

    /// <summary>The range end that selects every key starting with <paramref name="prefix"/>.</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0); // every key
    }

    /// <summary>Describes a failure without a stack trace, naming the member.</summary>
    public static string Describe(Exception error, Uri endpoint) => error switch
    {
        RpcException rpc => $"etcd at {endpoint}: {rpc.StatusCode} ({rpc.Status.Detail})",
        _ => $"etcd at {endpoint}: {error.Message}",
    };

    private static GrpcChannel CreateChannel(Uri endpoint) => GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            EnableMultipleHttp2Connections = true,
        },
        DisposeHttpClient = true,
        MaxReceiveMessageSize = 64 * 1024 * 1024,
    });

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var channel in _channels)
            {
                channel?.Dispose();
            }
        }
    }
}
