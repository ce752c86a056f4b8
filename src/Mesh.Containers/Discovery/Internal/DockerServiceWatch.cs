using System.Globalization;
using System.Text.Json;
using Docker.DotNet.Models;
using Mesh.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Mesh.Containers.Internal;

/// <summary>Watches one service: lists its containers, then follows the engine's container events and re-lists on each change.</summary>
internal sealed class DockerServiceWatch : IAsyncDisposable
{
    private static readonly HashSet<string> s_relevantActions = new(StringComparer.Ordinal)
    {
        "start", "restart", "die", "stop", "kill", "pause", "unpause", "destroy", "connect", "disconnect", "rename",
    };

    private readonly DockerDiscoveryProvider _provider;
    private readonly MeshDiscoveryContext _context;
    private readonly Settings _settings;
    private readonly DockerDiscoveryOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private IReadOnlyList<MeshEndpoint>? _published;

    public DockerServiceWatch(DockerDiscoveryProvider provider, MeshDiscoveryContext context, Settings settings, DockerDiscoveryOptions options, ILogger logger, CancellationToken providerDisposing)
    {
        _provider = provider;
        _context = context;
        _settings = settings;
        _options = options;
        _logger = logger;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(providerDisposing);
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Per-service settings: the options, overridden by <c>{mesh}:Services:{name}:Docker:*</c>.</summary>
    internal sealed record Settings(string ServiceLabel, DockerDiscoveryAddressMode AddressMode, int? Port, string Scheme, string? Network)
    {
        /// <summary>Reads the service's <c>Docker</c> keys in the dialect of every Mesh package; every problem is
        /// reported, naming the full key.</summary>
        public static bool TryRead(DockerDiscoveryOptions options, IConfiguration service, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Settings? settings, out List<string> errors)
        {
            errors = [];
            var reader = new Mesh.Configuration.Internal.ConfigurationReader(errors);
            var section = service.GetSection("Docker");
            var mode = reader.Enum<DockerDiscoveryAddressMode>(section, "AddressMode") ?? options.AddressMode;
            int? port = null;
            if (Mesh.Configuration.Internal.ConfigurationReader.Value(section, "Port") is { } portText)
            {
                if (int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 65535)
                {
                    port = p;
                }
                else
                {
                    errors.Add($"{Mesh.Configuration.Internal.ConfigurationReader.PathOf(section, "Port")}: '{portText}' is not a port; allowed: 1 to 65535 (or absent for the container's single exposed port or its mesh.port label).");
                }
            }

            var scheme = reader.String(section, "Scheme")?.ToLowerInvariant() ?? options.Scheme;
            if (scheme is not ("http" or "https"))
            {
                errors.Add($"{Mesh.Configuration.Internal.ConfigurationReader.PathOf(section, "Scheme")}: '{scheme}' is not allowed; allowed: http, https.");
            }

            settings = errors.Count == 0 ? new Settings(options.ServiceLabel, mode, port, scheme, reader.String(section, "Network")) : null;
            return settings is not null;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = _options.ReconnectDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var engine = await _provider.GetEngineAsync(cancellationToken).ConfigureAwait(false);
                var filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["type"] = new Dictionary<string, bool> { ["container"] = true },
                    ["label"] = new Dictionary<string, bool> { [$"{_settings.ServiceLabel}={_context.ServiceName}"] = true },
                };

                // Subscribe first (the stream is open once the engine answered), then list: a change between the two
                // arrives as an event, never lost. The stream is read line by line here, so each event is seen at once.
#pragma warning disable CS0618 // The stream overload is marked obsolete in favour of IProgress, whose JSON reader may hold events back.
                await using var events = await engine.Client.System.MonitorEventsAsync(new ContainerEventsParameters { Filters = filters }, cancellationToken).ConfigureAwait(false);
#pragma warning restore CS0618
                await ResyncAsync(engine, cancellationToken).ConfigureAwait(false);
                delay = _options.ReconnectDelay;
                using var reader = new StreamReader(events);
                using var changed = new SemaphoreSlim(0);
                using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var reading = ReadEventsAsync(reader, changed, stopReading.Token);
                try
                {
                    while (true)
                    {
                        var next = changed.WaitAsync(stopReading.Token);
                        if (await Task.WhenAny(next, reading).ConfigureAwait(false) == reading)
                        {
                            await reading.ConfigureAwait(false);
                            break;
                        }

                        await next.ConfigureAwait(false);
                        Drain(changed);
                        await ResyncAsync(engine, cancellationToken).ConfigureAwait(false);

                        // The engine announces some changes (pause, for one) just before its container listing shows them: look again shortly after.
                        await Task.Delay(SettleDelay, cancellationToken).ConfigureAwait(false);
                        Drain(changed);
                        await ResyncAsync(engine, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    await stopReading.CancelAsync().ConfigureAwait(false);
                    try
                    {
                        await reading.ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // Stopped on purpose, or the failure that ended the loop is reported below.
                    }
                }

                throw new IOException("The engine closed its event stream.");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                DiscoveryLog.WatchFailed(_logger, _context.ServiceName, e.Message, delay.TotalMilliseconds);
                _context.ReportFailure(e);
            }

            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    private static readonly TimeSpan SettleDelay = TimeSpan.FromMilliseconds(250);

    private static async Task ReadEventsAsync(StreamReader reader, SemaphoreSlim changed, CancellationToken cancellationToken)
    {
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (IsRelevant(ActionOf(line)))
            {
                changed.Release();
            }
        }
    }

    private static void Drain(SemaphoreSlim changed)
    {
        while (changed.Wait(0))
        {
            // Coalesce a burst of events into one listing.
        }
    }

    private static bool IsRelevant(string? action)
    {
        if (action is null)
        {
            return true;
        }

        if (action.Length == 0)
        {
            return false;
        }

        var colon = action.IndexOf(':', StringComparison.Ordinal);
        var verb = colon < 0 ? action : action[..colon];
        return s_relevantActions.Contains(verb) || verb == "health_status";
    }

    private static string? ActionOf(string line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return "";
        }

        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("Action", out var action) && action.ValueKind == JsonValueKind.String
                ? action.GetString()
                : document.RootElement.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String ? status.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task ResyncAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        var containers = await EngineErrors.CallAsync($"Listing containers of service '{_context.ServiceName}'", () => engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = false,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{_settings.ServiceLabel}={_context.ServiceName}"] = true },
            },
        }, cancellationToken)).ConfigureAwait(false);

        var endpoints = new List<MeshEndpoint>();
        foreach (var container in containers.OrderBy(c => c.ID, StringComparer.Ordinal))
        {
            if (ToEndpoint(engine, container) is { } endpoint && !endpoints.Exists(e => e.Key == endpoint.Key))
            {
                endpoints.Add(endpoint);
            }
        }

        if (_published is not null && _published.Count == endpoints.Count && _published.SequenceEqual(endpoints))
        {
            return;
        }

        _published = endpoints;
        DiscoveryLog.Published(_logger, _context.ServiceName, endpoints.Count);
        _context.Publish(endpoints);
    }

    private MeshEndpoint? ToEndpoint(DockerEngine engine, ContainerListResponse container)
    {
        if (container.State != "running")
        {
            return null;
        }

        var status = container.Status ?? "";
        if (status.Contains("(unhealthy)", StringComparison.Ordinal) || status.Contains("(health: starting)", StringComparison.Ordinal))
        {
            return null;
        }

        var labels = container.Labels ?? new Dictionary<string, string>();
        var scheme = labels.TryGetValue("mesh.scheme", out var s) && (s is "http" or "https") ? s : _settings.Scheme;
        var tcpPorts = (container.Ports ?? []).Where(p => p.Type == "tcp").ToList();
        var port = _settings.Port
            ?? (labels.TryGetValue("mesh.port", out var portLabel) && int.TryParse(portLabel, NumberStyles.None, CultureInfo.InvariantCulture, out var labelled) ? labelled : (int?)null)
            ?? (tcpPorts.Select(p => (int)p.PrivatePort).Distinct().Count() == 1 ? tcpPorts[0].PrivatePort : (int?)null);
        if (port is null)
        {
            DiscoveryLog.Skipped(_logger, _context.ServiceName, Name(container), "it exposes no single TCP port; label it mesh.port=<port>");
            return null;
        }

        string host;
        int hostPort;
        if (_settings.AddressMode == DockerDiscoveryAddressMode.PublishedPort)
        {
            var published = tcpPorts
                .Where(p => p.PrivatePort == port && p.PublicPort is > 0 && engine.PublishedPorts.ReachableHost(p.IP) is not null)
                .OrderByDescending(p => engine.PublishedPorts.Matches(p.IP))
                .FirstOrDefault();
            if (published?.PublicPort is not { } publicPort)
            {
                DiscoveryLog.Skipped(_logger, _context.ServiceName, Name(container), $"port {port} is not published where it can be reached (the engine's host is {engine.Host})");
                return null;
            }

            host = engine.PublishedPorts.ReachableHost(published.IP)!;
            hostPort = publicPort;
        }
        else
        {
            var networks = container.NetworkSettings?.Networks;
            var network = networks is null ? null
                : _settings.Network is { } name ? (networks.TryGetValue(name, out var n) ? n : null)
                : networks.Values.FirstOrDefault(n => !string.IsNullOrEmpty(n.IPAddress));
            if (string.IsNullOrEmpty(network?.IPAddress))
            {
                DiscoveryLog.Skipped(_logger, _context.ServiceName, Name(container), "it has no address on the network");
                return null;
            }

            host = network.IPAddress;
            hostPort = port.Value;
        }

        var weight = labels.TryGetValue("mesh.weight", out var w) && int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : 1;
        labels.TryGetValue("mesh.zone", out var zone);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["container.id"] = container.ID[..Math.Min(12, container.ID.Length)],
            ["container.name"] = Name(container),
        };
        foreach (var (key, value) in labels)
        {
            if (key.StartsWith("mesh.metadata.", StringComparison.Ordinal))
            {
                metadata[key["mesh.metadata.".Length..]] = value;
            }
        }

        return new MeshEndpoint(new Uri($"{scheme}://{host}:{hostPort.ToString(CultureInfo.InvariantCulture)}"), weight, zone, metadata);
    }

    private static string Name(ContainerListResponse container) =>
        container.Names is { Count: > 0 } names ? names[0].TrimStart('/') : container.ID;

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
