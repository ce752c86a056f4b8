using Etcdserverpb;
using Grpc.Core;
using Mesh.Discovery.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Mvccpb;

namespace Mesh.Discovery.Etcd.Internal;

/// <summary>
/// The <c>Etcd</c> discovery provider. Per service: list <c>{Prefix}{service}/</c>, publish, then watch the prefix from
/// the list's revision and apply puts and deletes as they come; list again after a compaction or a failure (with
/// backoff). While etcd is unreachable the last published set stays in use and each failure is reported.
/// </summary>
internal sealed class EtcdDiscoveryProvider(EtcdConnection connection, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) : IMeshDiscoveryProvider
{
    public const string ProviderName = "Etcd";

    private readonly EtcdConnection _connection = connection;
    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Discovery.Etcd");
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public string Name => ProviderName;

    public IAsyncDisposable Watch(MeshDiscoveryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var watch = new ServiceWatch(this, context);
        return new BackgroundLoop(watch.RunAsync);
    }

    private sealed class ServiceWatch(EtcdDiscoveryProvider provider, MeshDiscoveryContext context)
    {
        private readonly string _prefix = provider._connection.Prefix + context.ServiceName + "/";
        private readonly EndpointSetPublisher _publisher = new(context);
        private readonly Dictionary<string, (long Revision, MeshEndpoint Endpoint)> _entries = new(StringComparer.Ordinal);
        private readonly MetadataInterner _metadata = new();
        private readonly Dictionary<string, long> _skipped = new(StringComparer.Ordinal);

        private ILogger Logger => provider._logger;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var connection = provider._connection;
            var attempt = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                EtcdClients clients = default;
                try
                {
                    clients = connection.Get();
                    var revision = await ListAsync(clients, cancellationToken).ConfigureAwait(false);
                    attempt = 0;
                    await WatchAsync(clients, revision + 1, cancellationToken).ConfigureAwait(false);
                    continue; // compacted: list again at once
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    attempt++;
                    var delay = connection.Backoff.Delay(attempt);
                    var message = clients.Endpoint is null ? ex.Message : EtcdConnection.Describe(ex, clients.Endpoint);
                    DiscoveryLog.EtcdWatchFailed(Logger, context.ServiceName, _prefix, attempt, delay, message);
                    if (clients.Endpoint is not null)
                    {
                        connection.OnFailure(clients);
                    }

                    // An unreachable or failing etcd is expected and reported by its message; anything else is a bug
                    // worth a stack trace, so it is reported as it is.
                    _publisher.ReportFailure(DiscoveryFailures.IsExpected(ex)
                        ? new EtcdDiscoveryException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{message}; retrying in {delay.TotalSeconds:0.###} s"), ex)
                        : ex);
                    try
                    {
                        await Task.Delay(delay, provider._time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }

        private async Task<long> ListAsync(EtcdClients clients, CancellationToken cancellationToken)
        {
            var request = new RangeRequest { Key = EtcdConnection.Key(_prefix), RangeEnd = EtcdConnection.PrefixEnd(_prefix) };
            var response = await clients.Kv.RangeAsync(request, deadline: provider._connection.Deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
            // Entries whose revision did not change since the last list or watch event are kept as they are (no parse).
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var kv in response.Kvs)
            {
                listed.Add(Apply(kv));
            }

            foreach (var key in _entries.Keys.Where(k => !listed.Contains(k)).ToList())
            {
                _entries.Remove(key);
            }

            foreach (var key in _skipped.Keys.Where(k => !listed.Contains(k)).ToList())
            {
                _skipped.Remove(key);
            }

            Publish();
            DiscoveryLog.EtcdListed(Logger, context.ServiceName, _prefix, _entries.Count, response.Header.Revision);
            return response.Header.Revision;
        }

        private async Task WatchAsync(EtcdClients clients, long fromRevision, CancellationToken cancellationToken)
        {
            using var call = clients.Watch.Watch(cancellationToken: cancellationToken);
            await call.RequestStream.WriteAsync(new WatchRequest
            {
                CreateRequest = new WatchCreateRequest
                {
                    Key = EtcdConnection.Key(_prefix),
                    RangeEnd = EtcdConnection.PrefixEnd(_prefix),
                    StartRevision = fromRevision,
                },
            }, cancellationToken).ConfigureAwait(false);

            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                if (response.CompactRevision != 0)
                {
                    DiscoveryLog.EtcdWatchCompacted(Logger, context.ServiceName, _prefix, response.CompactRevision);
                    return;
                }

                if (response.Canceled)
                {
                    throw new EtcdDiscoveryException($"etcd cancelled the watch on {_prefix}: {response.CancelReason}");
                }

                if (response.Events.Count == 0)
                {
                    continue;
                }

                foreach (var change in response.Events)
                {
                    if (change.Type == Event.Types.EventType.Put)
                    {
                        Apply(change.Kv);
                    }
                    else
                    {
                        var key = change.Kv.Key.ToStringUtf8();
                        _entries.Remove(key);
                        _skipped.Remove(key);
                    }
                }

                Publish();
            }

            throw new EtcdDiscoveryException($"etcd closed the watch stream on {_prefix}");
        }

        private string Apply(KeyValue kv)
        {
            var key = kv.Key.ToStringUtf8();
            if (_entries.TryGetValue(key, out var known) && known.Revision == kv.ModRevision)
            {
                return key;
            }

            if (EtcdEndpointRecord.TryParse(kv.Value.Span, _metadata, out var endpoint, out var reason))
            {
                _entries[key] = (kv.ModRevision, endpoint);
                _skipped.Remove(key);
                return key;
            }

            _entries.Remove(key);
            if (!_skipped.TryGetValue(key, out var loggedRevision) || loggedRevision != kv.ModRevision)
            {
                _skipped[key] = kv.ModRevision;
                DiscoveryLog.EtcdEntrySkipped(Logger, context.ServiceName, key, reason);
            }

            return key;
        }

        private void Publish()
        {
            // Dictionary order is stable while keys stay (a re-list keeps unchanged entries), so no sort is needed
            // to recognise an unchanged set.
            var endpoints = new MeshEndpoint[_entries.Count];
            var i = 0;
            foreach (var entry in _entries.Values)
            {
                endpoints[i++] = entry.Endpoint;
            }

            _publisher.Publish(endpoints);
        }
    }

}

/// <summary>etcd could not be listed or watched; the last known set stays in use.</summary>
internal sealed class EtcdDiscoveryException(string message, Exception? inner = null) : MeshDiscoveryException(message, inner);
