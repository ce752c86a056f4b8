using System.Net;
using DnsClient;
using Mesh.Discovery.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Discovery.Dns.Internal;

/// <summary>The <c>Dns</c> discovery provider: one refresh loop per watched service, sharing one DNS client.</summary>
internal sealed class DnsDiscoveryProvider : IMeshDiscoveryProvider
{
    public const string ProviderName = "Dns";

    private readonly DnsDiscoveryOptions _options;
    private readonly Lazy<DnsEndpointResolver> _resolver;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public DnsDiscoveryProvider(IOptions<MeshDiscoveryOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _options = options.Value.Dns;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Discovery.Dns");
        _time = timeProvider ?? TimeProvider.System;
        _resolver = new Lazy<DnsEndpointResolver>(() => new DnsEndpointResolver(CreateLookupClient(_options)), LazyThreadSafetyMode.PublicationOnly); // a server name that did not resolve is tried again
    }

    internal DnsDiscoveryProvider(DnsDiscoveryOptions options, IDnsQuery lookup, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        _resolver = new Lazy<DnsEndpointResolver>(new DnsEndpointResolver(lookup));
    }

    public string Name => ProviderName;

    public IAsyncDisposable Watch(MeshDiscoveryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var publisher = new EndpointSetPublisher(context);
        if (!DnsServiceSettings.TryRead(context.Configuration, out var settings, out var errors))
        {
            publisher.ReportFailure(new DnsDiscoveryException(string.Join(" ", errors)));
            return new BackgroundLoop(static _ => Task.CompletedTask);
        }

        return new BackgroundLoop(ct => RunAsync(context.ServiceName, settings, publisher, ct));
    }

    private async Task RunAsync(string service, DnsServiceSettings settings, EndpointSetPublisher publisher, CancellationToken cancellationToken)
    {
        var backoff = new RetryBackoff(_options.RetryBaseDelay, _options.RetryMaxDelay);
        var attempt = 0;
        IReadOnlyList<SkippedRecord> lastSkipped = [];
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                var result = await _resolver.Value.ResolveAsync(settings, cancellationToken).ConfigureAwait(false);
                if (!result.Skipped.SequenceEqual(lastSkipped))
                {
                    foreach (var record in result.Skipped.Except(lastSkipped))
                    {
                        DiscoveryLog.DnsRecordSkipped(_logger, service, record.Record, record.Reason);
                    }

                    lastSkipped = result.Skipped;
                }

                publisher.Publish(result.Endpoints);
                attempt = 0;
                delay = Clamp(result.Ttl, _options.MinRefreshInterval, _options.MaxRefreshInterval);
                DiscoveryLog.DnsResolved(_logger, service, settings.Name, result.Endpoints.Count, delay);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                attempt++;
                delay = backoff.Delay(attempt);
                var error = ex as DnsDiscoveryException
                    ?? (DiscoveryFailures.IsExpected(ex) ? new DnsDiscoveryException($"DNS refresh of {settings.Name} failed: {ex.Message}", ex) : ex);
                DiscoveryLog.DnsRefreshFailed(_logger, service, settings.Name, attempt, delay, error.Message);
                publisher.ReportFailure(error); // an unexpected exception is reported as it is, to be logged with its stack
            }

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

    internal static TimeSpan Clamp(TimeSpan ttl, TimeSpan min, TimeSpan max) => ttl < min ? min : ttl > max ? max : ttl;

    private static LookupClient CreateLookupClient(DnsDiscoveryOptions options)
    {
        DnsServerParser.TryParse(options.Server, out var servers, out _);
        var nameServers = new List<NameServer>();
        foreach (var (host, port) in servers)
        {
            var addresses = IPAddress.TryParse(host, out var ip) ? [ip] : System.Net.Dns.GetHostAddresses(host);
            nameServers.AddRange(addresses.Select(a => new NameServer(a, port)));
        }

        var lookupOptions = nameServers.Count == 0 ? new LookupClientOptions() : new LookupClientOptions([.. nameServers]);
        lookupOptions.UseCache = false; // the provider honours the TTL itself
        lookupOptions.Timeout = options.QueryTimeout;
        lookupOptions.Retries = 1;
        lookupOptions.ThrowDnsErrors = false;
        lookupOptions.ContinueOnDnsError = true;
        lookupOptions.UseTcpFallback = true;
        return new LookupClient(lookupOptions);
    }
}
