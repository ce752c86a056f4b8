using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Discovery.Internal;

/// <summary>
/// Builds the hosted service <typeparamref name="T"/> only when the host starts it. The host resolves its hosted services
/// before it validates options on start; a service whose constructor reads options would otherwise fail the start with
/// the first invalid options' exception alone, hiding the other problems validation reports at once.
/// </summary>
internal sealed class DeferredHostedService<T>(IServiceProvider services) : IHostedLifecycleService
    where T : class, IHostedService
{
    private T? _inner;

    private T Inner => _inner ??= services.GetRequiredService<T>();

    public Task StartingAsync(CancellationToken cancellationToken) =>
        Inner is IHostedLifecycleService lifecycle ? lifecycle.StartingAsync(cancellationToken) : Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Inner.StartAsync(cancellationToken);

    public Task StartedAsync(CancellationToken cancellationToken) =>
        Inner is IHostedLifecycleService lifecycle ? lifecycle.StartedAsync(cancellationToken) : Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) =>
        _inner is IHostedLifecycleService lifecycle ? lifecycle.StoppingAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => _inner?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) =>
        _inner is IHostedLifecycleService lifecycle ? lifecycle.StoppedAsync(cancellationToken) : Task.CompletedTask;
}
