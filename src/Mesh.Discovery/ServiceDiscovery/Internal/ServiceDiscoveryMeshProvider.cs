using System.Net;
using Mesh.Discovery.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Discovery.ServiceDiscovery.Internal;

/// <summary>
/// The <c>ServiceDiscovery</c> discovery provider: a service's endpoints come from Microsoft.Extensions.ServiceDiscovery's
/// resolver pipeline (its configuration, DNS and pass-through providers, and any <c>IServiceEndpointProvider</c> the app
/// registered). One loop per watched service: it resolves the service with one query (<c>https+http://{name}</c> by
/// default, MESD's own meaning: the https endpoints when the service has any, else the http ones), publishes them, and waits for the change token MESD returns with the endpoints (a configuration reload, a DNS TTL), or polls when that
/// token cannot call back. A failed resolution keeps the last good set (reported to the mesh) and is retried with backoff.
/// </summary>
internal sealed class ServiceDiscoveryMeshProvider : IMeshDiscoveryProvider
{
    public const string ProviderName = "ServiceDiscovery";

    /// <summary>How long one resolution may take.</summary>
    internal static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How often endpoints are resolved again when MESD's change token cannot call back (MESD's own refresh period).</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(60);

    private static readonly RetryBackoff s_backoff = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

    private readonly ServiceEndpointResolver _resolver;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public ServiceDiscoveryMeshProvider(ServiceEndpointResolver resolver, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _resolver = resolver;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Discovery.ServiceDiscovery");
        _time = timeProvider ?? TimeProvider.System;
    }

    public string Name => ProviderName;

    public IAsyncDisposable Watch(MeshDiscoveryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var publisher = new EndpointSetPublisher(context);
        if (!ServiceDiscoveryServiceSettings.TryRead(context.ServiceName, context.Configuration, out var settings, out var errors))
        {
            publisher.ReportFailure(new MeshDiscoveryException(string.Join(" ", errors)));
            return new BackgroundLoop(static _ => Task.CompletedTask);
        }

        return new BackgroundLoop(ct => RunAsync(context.ServiceName, settings, publisher, ct));
    }

    private async Task RunAsync(string service, ServiceDiscoveryServiceSettings settings, EndpointSetPublisher publisher, CancellationToken cancellationToken)
    {
        var attempt = 0;
        IReadOnlyList<string> lastSkipped = [];
        while (!cancellationToken.IsCancellationRequested)
        {
            var tokens = new List<IChangeToken>();
            TimeSpan? retry = null;
            try
            {
                // One query, as an HttpClient with MESD would make it: "https+http://catalog" takes the https endpoints when
                // the service has any, else the http ones, and a bare host and port gets the first scheme.
                var query = $"{string.Join('+', settings.Schemes)}://{settings.Name}";
                var endpoints = new List<MeshEndpoint>();
                var keys = new HashSet<string>(StringComparer.Ordinal);
                var skipped = new List<string>();
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    timeout.CancelAfter(ResolveTimeout);
                    ServiceEndpointSource source;
                    try
                    {
                        source = await _resolver.GetEndpointsAsync(query, timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new MeshDiscoveryException($"Microsoft.Extensions.ServiceDiscovery did not resolve {query} within {ResolveTimeout.TotalSeconds:0} s.");
                    }

                    tokens.Add(source.ChangeToken);
                    foreach (var endpoint in source.Endpoints)
                    {
                        if (TryMap(endpoint.EndPoint, settings.Schemes[0], out var mapped, out var problem))
                        {
                            if (keys.Add(mapped.Key))
                            {
                                endpoints.Add(mapped);
                            }
                        }
                        else
                        {
                            skipped.Add(problem);
                        }
                    }
                }

                foreach (var problem in skipped.Except(lastSkipped))
                {
                    DiscoveryLog.ServiceDiscoveryEndpointSkipped(_logger, service, problem);
                }

                lastSkipped = skipped;
                publisher.Publish(endpoints);
                attempt = 0;
                DiscoveryLog.ServiceDiscoveryResolved(_logger, service, settings.Name, endpoints.Count);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                attempt++;
                retry = s_backoff.Delay(attempt);
                var error = ex as MeshDiscoveryException ?? new MeshDiscoveryException($"Microsoft.Extensions.ServiceDiscovery could not resolve {settings.Name}: {ex.Message}", ex);
                DiscoveryLog.ServiceDiscoveryFailed(_logger, service, settings.Name, attempt, retry.Value, error.Message);
                publisher.ReportFailure(error);
            }

            try
            {
                await WaitForChangeAsync(tokens, retry ?? PollInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Waits until one of <paramref name="tokens"/> changes (when they can call back), or <paramref name="timeout"/>.</summary>
    private async Task WaitForChangeAsync(List<IChangeToken> tokens, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (tokens.Any(t => t.HasChanged))
        {
            return;
        }

        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registrations = new List<IDisposable>();
        using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (var token in tokens.Where(t => t.ActiveChangeCallbacks))
            {
                registrations.Add(token.RegisterChangeCallback(static state => ((TaskCompletionSource)state!).TrySetResult(), changed));
            }

            var waited = Task.Delay(timeout, _time, delay.Token);
            await Task.WhenAny(changed.Task, waited).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await delay.CancelAsync().ConfigureAwait(false); // stops the timer when a change came first
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }

    /// <summary>A MESD endpoint as a mesh endpoint: a URI as it is; a host and port with the scheme it was resolved for
    /// (and that scheme's default port when MESD gives none, as the pass-through provider does).</summary>
    internal static bool TryMap(EndPoint endPoint, string scheme, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeshEndpoint? endpoint, out string problem)
    {
        endpoint = null;
        problem = "";
        Uri? address = endPoint switch
        {
            UriEndPoint { Uri: var uri } => uri,
            DnsEndPoint dns => Build(scheme, dns.Host, dns.Port),
            IPEndPoint ip => Build(scheme, ip.Address.ToString(), ip.Port),
            _ => null,
        };

        if (address is null)
        {
            problem = $"{endPoint} ({endPoint.GetType().Name}) is neither a URI nor a host and port";
            return false;
        }

        if (!MeshEndpoint.TryValidateAddress(address, out var error))
        {
            problem = error;
            return false;
        }

        endpoint = new MeshEndpoint(address);
        return true;
    }

    private static Uri Build(string scheme, string host, int port) =>
        new UriBuilder(scheme, host, port > 0 ? port : -1).Uri;
}
