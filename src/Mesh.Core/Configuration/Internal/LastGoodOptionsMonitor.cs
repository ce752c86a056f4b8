using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Configuration.Internal;

/// <summary>
/// An <see cref="IOptionsMonitor{TOptions}"/> that keeps the last good options when a reload does not validate.
/// <para>
/// The framework's <c>OptionsMonitor</c> drops its cached value and builds the new one inside the change-token callback of
/// the configuration provider: when validation fails there, <see cref="OptionsValidationException"/> is thrown on the
/// provider's thread (the file watcher's, or the caller of <c>IConfigurationRoot.Reload()</c>), <c>OnChange</c> listeners
/// are never called, and every later <c>CurrentValue</c> throws again (dotnet/runtime#44381). Here a reload builds the new
/// options first; when they do not validate (or building them throws, or the refusal rule objects), the reload is
/// refused with one Error log naming every problem, the last good options stay current, and nothing is thrown. Start-up
/// is unchanged: the first <see cref="Get"/> throws <see cref="OptionsValidationException"/>, which is what
/// <c>ValidateOnStart</c> reports.
/// </para>
/// </summary>
internal sealed class LastGoodOptionsMonitor<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>
    : IOptionsMonitor<TOptions>, IDisposable
    where TOptions : class
{
    private readonly ConcurrentDictionary<string, TOptions> _current = new(StringComparer.Ordinal);
    private readonly Lock _reloadGate = new();
    private readonly IOptionsFactory<TOptions> _factory;
    private readonly Func<ILoggerFactory?> _loggerFactory;
    private readonly Func<TOptions, TOptions, string?>? _refuse;
    private readonly List<IDisposable> _subscriptions = [];

    /// <summary>Creates the monitor and subscribes to the change tokens.</summary>
    /// <param name="factory">Builds and validates options.</param>
    /// <param name="sources">The change tokens that mean "the configuration changed".</param>
    /// <param name="loggerFactory">Resolved when a reload is refused (so that logging added after the mesh still gets the line).</param>
    /// <param name="refuse">A last check of a reload that validated: given the current and the new options, why to refuse it, or null.</param>
    public LastGoodOptionsMonitor(
        IOptionsFactory<TOptions> factory,
        IEnumerable<IOptionsChangeTokenSource<TOptions>> sources,
        Func<ILoggerFactory?> loggerFactory,
        Func<TOptions, TOptions, string?>? refuse = null)
    {
        _factory = factory;
        _loggerFactory = loggerFactory;
        _refuse = refuse;
        foreach (var source in sources)
        {
            _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, OnReload, source.Name));
        }
    }

    private event Action<TOptions, string>? Changed;

    public TOptions CurrentValue => Get(Options.DefaultName);

    public TOptions Get(string? name)
    {
        name ??= Options.DefaultName;
        return _current.TryGetValue(name, out var options) ? options : _current.GetOrAdd(name, _factory.Create);
    }

    public IDisposable? OnChange(Action<TOptions, string?> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        Action<TOptions, string> handler = (options, name) => listener(options, name);
        Changed += handler;
        return new Subscription(() => Changed -= handler);
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    private void OnReload(string? name)
    {
        name ??= Options.DefaultName;
        lock (_reloadGate)
        {
            TOptions next;
            try
            {
                next = _factory.Create(name);
                if (_refuse is not null && _current.TryGetValue(name, out var last) && _refuse(last, next) is { } reason)
                {
                    Refused(reason);
                    return;
                }
            }
            catch (OptionsValidationException ex)
            {
                Refused(string.Join(" | ", ex.Failures));
                return;
            }
            catch (Exception ex)
            {
                Refused($"{ex.GetType().Name}: {ex.Message}");
                return;
            }

            _current[name] = next;
            foreach (var handler in Changed?.GetInvocationList().Cast<Action<TOptions, string>>() ?? [])
            {
                try
                {
                    handler(next, name);
                }
                catch (Exception ex)
                {
                    ConfigurationLog.ChangeHandlerFailed(Logger, ex);
                }
            }
        }
    }

    private ILogger Logger => _loggerFactory()?.CreateLogger("Mesh.Configuration") ?? NullLogger.Instance;

    private void Refused(string errors) => ConfigurationLog.ReloadRefused(Logger, errors);

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
