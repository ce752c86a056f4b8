using System.Globalization;
using Etcdserverpb;
using Grpc.Core;
using Mesh.Discovery.Etcd.Internal;
using Mesh.Discovery.Internal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Registration.Internal;

/// <summary>
/// Registers this instance as <c>{Prefix}{service}/{instance-id}</c> under an etcd lease once the host has started
/// (so the server listens before traffic comes), keeps the lease alive, registers again after etcd outages or an
/// expired lease, and on graceful shutdown (before the server stops) deletes the key and revokes the lease.
/// Disposed without a graceful stop (a crash, as far as the registry can tell) it only stops the keep-alives: the
/// key disappears when the lease expires.
/// </summary>
internal sealed class MeshRegistrationService : IHostedLifecycleService, IAsyncDisposable, IDisposable
{
    private readonly EtcdConnection _connection;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly byte[] _value;
    private readonly TimeSpan _deregistrationDelay;
    private readonly Lock _lock = new();
    private BackgroundLoop? _loop;
    private long _lease;
    private int _registered;
    private bool _stopped;

    public MeshRegistrationService(IOptions<MeshRegistrationOptions> options, EtcdConnection connection, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        var o = options.Value;
        _connection = connection;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Discovery.Registration");
        _time = timeProvider ?? TimeProvider.System;
        InstanceId = string.IsNullOrWhiteSpace(o.InstanceId) ? GenerateInstanceId() : o.InstanceId.Trim();
        Key = connection.Prefix + o.Service!.Trim().ToLowerInvariant() + "/" + InstanceId;
        Address = o.Address!.Trim().TrimEnd('/');
        TtlSeconds = (long)Math.Ceiling(o.LeaseTtl.TotalSeconds);
        _deregistrationDelay = o.DeregistrationDelay;
        _value = EtcdEndpointRecord.Serialize(new EtcdEndpointRecord
        {
            Address = Address,
            Weight = o.Weight,
            Zone = string.IsNullOrWhiteSpace(o.Zone) ? null : o.Zone,
            Metadata = o.Metadata.Count == 0 ? null : new Dictionary<string, string>(o.Metadata, StringComparer.Ordinal),
        });
    }

    public string InstanceId { get; }

    public string Key { get; }

    public string Address { get; }

    public long TtlSeconds { get; }

    /// <summary>Whether the key is written and its lease kept alive right now.</summary>
    public bool IsRegistered => Volatile.Read(ref _registered) != 0;

    public long LeaseId => Volatile.Read(ref _lease);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After every hosted service started (the web server listens): register.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_loop is null && !_stopped)
            {
                _loop = new BackgroundLoop(RunAsync);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Before the web server stops: leave the registry, then wait <c>DeregistrationDelay</c> while it still
    /// answers, so clients have stopped sending here when it stops.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (await DeregisterAsync(cancellationToken).ConfigureAwait(false) && _deregistrationDelay > TimeSpan.Zero)
        {
            DiscoveryLog.WaitingAfterDeregistration(_logger, Key, _deregistrationDelay);
            try
            {
                await Task.Delay(_deregistrationDelay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The host's shutdown timeout: stop now.
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => DeregisterAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops keeping the lease alive without deleting anything (no graceful stop happened).</summary>
    public async ValueTask DisposeAsync()
    {
        BackgroundLoop? loop;
        lock (_lock)
        {
            _stopped = true;
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.DisposeAsync().ConfigureAwait(false);
        }

        Volatile.Write(ref _registered, 0);
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Leaves the registry (once); true when this call deleted the instance's key.</summary>
    private async Task<bool> DeregisterAsync(CancellationToken cancellationToken)
    {
        BackgroundLoop? loop;
        lock (_lock)
        {
            if (_stopped)
            {
                return false;
            }

            _stopped = true;
            loop = _loop;
        }

        if (loop is null)
        {
            return false;
        }

        await loop.DisposeAsync().ConfigureAwait(false);
        Volatile.Write(ref _registered, 0);
        var lease = LeaseId;
        if (lease == 0)
        {
            return false;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connection.RequestTimeout);
        EtcdClients clients = default;
        try
        {
            clients = _connection.Get();

            // Delete the key only while it is still ours (another instance may have taken the id over since).
            var txn = new TxnRequest();
            txn.Compare.Add(new Compare
            {
                Key = EtcdConnection.Key(Key),
                Target = Compare.Types.CompareTarget.Lease,
                Result = Compare.Types.CompareResult.Equal,
                Lease = lease,
            });
            txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = EtcdConnection.Key(Key) } });
            await clients.Kv.TxnAsync(txn, deadline: _connection.Deadline, cancellationToken: timeout.Token).ConfigureAwait(false);
            await clients.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: _connection.Deadline, cancellationToken: timeout.Token).ConfigureAwait(false);
            Volatile.Write(ref _lease, 0);
            DiscoveryLog.Deregistered(_logger, Key, lease);
            return true;
        }
        catch (Exception ex) when (ex is RpcException { StatusCode: StatusCode.NotFound })
        {
            Volatile.Write(ref _lease, 0); // the lease is gone already, and its key with it
            DiscoveryLog.Deregistered(_logger, Key, lease);
            return true;
        }
        catch (Exception ex)
        {
            DiscoveryLog.DeregistrationFailed(_logger, ex, Key, lease);
            return false;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var attempt = 0;
        long lease = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            EtcdClients clients = default;
            try
            {
                clients = _connection.Get();
                if (lease == 0)
                {
                    var grant = await clients.Lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = TtlSeconds }, deadline: _connection.Deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (!string.IsNullOrEmpty(grant.Error))
                    {
                        throw new EtcdDiscoveryException($"etcd refused a lease of {TtlSeconds} s: {grant.Error}");
                    }

                    lease = grant.ID;
                    Volatile.Write(ref _lease, lease);
                }

                // Put (again) under the lease: after an outage the old lease may still be alive, then nothing changes.
                await clients.Kv.PutAsync(new PutRequest { Key = EtcdConnection.Key(Key), Value = Google.Protobuf.ByteString.CopyFrom(_value), Lease = lease },
                    deadline: _connection.Deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _registered, 1);
                DiscoveryLog.Registered(_logger, Key, Address, lease, TtlSeconds);
                attempt = 0;

                await KeepAliveAsync(clients, lease, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _registered, 0);
                DiscoveryLog.LeaseExpired(_logger, lease, Key);
                lease = 0;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound && lease != 0)
            {
                // "requested lease not found": it expired while etcd was out of reach; take a new one at once.
                Volatile.Write(ref _registered, 0);
                DiscoveryLog.LeaseExpired(_logger, lease, Key);
                lease = 0;
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _registered, 0);
                attempt++;
                var backoff = _connection.Backoff.Delay(attempt);
                var third = TimeSpan.FromSeconds(TtlSeconds / 3.0);
                var delay = backoff < third ? backoff : third;
                if (clients.Endpoint is not null)
                {
                    _connection.OnFailure(clients);
                }

                DiscoveryLog.RegistrationFailed(_logger, ex, Key, attempt, delay);
                try
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Keeps the lease alive every third of its TTL. Returns when etcd says the lease is gone; throws when
    /// the stream fails or an answer takes longer than the request timeout.</summary>
    private async Task KeepAliveAsync(EtcdClients clients, long lease, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(TtlSeconds / 3.0, 0.5));
        using var call = clients.Lease.LeaseKeepAlive(cancellationToken: cancellationToken);
        while (true)
        {
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, cancellationToken).ConfigureAwait(false);
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_connection.RequestTimeout);
                if (!await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
                {
                    throw new EtcdDiscoveryException("etcd closed the lease keep-alive stream");
                }
            }

            if (call.ResponseStream.Current.TTL <= 0)
            {
                return;
            }

            await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string GenerateInstanceId() => string.Create(CultureInfo.InvariantCulture,
        $"{Environment.MachineName.ToLowerInvariant()}-{Environment.ProcessId}-{Random.Shared.Next():x8}");
}
