using System.Diagnostics;
using System.Reflection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Docs.Tests.Snippets;

/// <summary>
/// Runs a docs program (a compiled block with top-level statements) as `dotnet run` would, with command-line arguments,
/// on its own thread. The host it builds is observed the way WebApplicationFactory does it (the
/// "Microsoft.Extensions.Hosting" diagnostic events), which gives the test its address and lets it stop the app; the
/// program itself runs unchanged.
/// </summary>
public sealed class DocProgram : IAsyncDisposable
{
    private static readonly AsyncLocal<DocProgram?> s_current = new();
    private static readonly object s_subscribed = Subscribe();
    private readonly TaskCompletionSource<IHost> _host = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _run;

    private DocProgram()
    {
    }

    /// <summary>The program's host, once built.</summary>
    public IHost Host => _host.Task.IsCompletedSuccessfully ? _host.Task.Result : throw new InvalidOperationException("The program has not built its host.");

    /// <summary>The first address the web app listens on.</summary>
    public Uri Address => new(Host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>Starts a web program and returns once its host has started (or throws what the program threw).</summary>
    public static async Task<DocProgram> StartAsync(Assembly assembly, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        GC.KeepAlive(s_subscribed);
        var program = new DocProgram();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        program._run = RunEntryPoint(assembly, args, program);
        var host = await Task.WhenAny(program._host.Task, program._run).ConfigureAwait(false) == program._host.Task
            ? await program._host.Task.ConfigureAwait(false)
            : throw new InvalidOperationException("The program ended before it built a host.", program._run.Exception?.GetBaseException());
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var first = await Task.WhenAny(started.Task, program._run, Task.Delay(Timeout.Infinite, timeout.Token)).ConfigureAwait(false);
            if (first != started.Task)
            {
                await program.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException("The program did not start its host within 60 s.", program._run.Exception?.GetBaseException());
            }
        }

        return program;
    }

    /// <summary>Runs a program to its end (within <paramref name="timeout"/>), rethrowing what it threw.</summary>
    public static async Task RunToCompletionAsync(Assembly assembly, IReadOnlyList<string> args, TimeSpan timeout)
    {
        GC.KeepAlive(s_subscribed);
        var program = new DocProgram();
        var run = RunEntryPoint(assembly, args, program);
        if (await Task.WhenAny(run, Task.Delay(timeout)).ConfigureAwait(false) != run)
        {
            if (program._host.Task.IsCompletedSuccessfully)
            {
                program.Host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            }

            throw new TimeoutException($"The program did not end within {timeout}.");
        }

        await run.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_host.Task.IsCompletedSuccessfully)
        {
            _host.Task.Result.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        }

        if (_run is not null && await Task.WhenAny(_run, Task.Delay(TimeSpan.FromSeconds(30))).ConfigureAwait(false) != _run)
        {
            throw new TimeoutException("The program did not stop within 30 s of StopApplication().");
        }
    }

    private static Task RunEntryPoint(Assembly assembly, IReadOnlyList<string> args, DocProgram program)
    {
        var entryPoint = assembly.EntryPoint ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no entry point (no top-level statements).");
        s_current.Value = program;        // flows into the program's thread: its host is ours, not another test's
        try
        {
            return Task.Factory.StartNew(() =>
            {
                try
                {
                    var result = entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? [] : [args.ToArray()]);
                    if (result is Task task)
                    {
                        task.GetAwaiter().GetResult();
                    }
                }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            s_current.Value = null;
        }
    }

    private static object Subscribe() => DiagnosticListener.AllListeners.Subscribe(new ListenerObserver());

    private sealed class ListenerObserver : IObserver<DiagnosticListener>
    {
        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == "Microsoft.Extensions.Hosting")
            {
                listener.Subscribe(new EventObserver());
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class EventObserver : IObserver<KeyValuePair<string, object?>>
    {
        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key == "HostBuilt" && value.Value is IHost host && s_current.Value is { } program)
            {
                program._host.TrySetResult(host);
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }
}
