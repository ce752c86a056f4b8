using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Tests.Configuration;

/// <summary>
/// A fresh application per scenario, configured the way the docs say: an <c>appsettings.json</c> file (written to a
/// temporary folder), optionally more providers, <c>AddMeshClient()</c> and a named client through <c>AddMeshHandler()</c>.
/// Only public API.
/// </summary>
internal sealed class UserApp : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-config-").FullName;

    public UserApp()
    {
        Builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        Builder.Logging.AddProvider(new FakeLoggerProvider(Logs)).SetMinimumLevel(LogLevel.Debug);
    }

    public HostApplicationBuilder Builder { get; }

    public FakeLogCollector Logs { get; } = new();

    public string SettingsPath => Path.Combine(_directory, "appsettings.json");

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Writes <c>appsettings.json</c> and adds it (reloaded on change) as the first provider.</summary>
    public UserApp WithJson(string json, bool reloadOnChange = false)
    {
        File.WriteAllText(SettingsPath, json);
        Builder.Configuration.AddJsonFile(SettingsPath, optional: false, reloadOnChange: reloadOnChange);
        return this;
    }

    /// <summary>Replaces the content of <c>appsettings.json</c> (a save in an editor).</summary>
    public void SaveJson(string json) => File.WriteAllText(SettingsPath, json);

    /// <summary>Adds the mesh bound to the default section and a client "catalog" through the mesh.</summary>
    public IHost BuildWithMeshClient(Action<IServiceCollection>? services = null, string client = "catalog")
    {
        Builder.Services.AddMeshClient();
        services?.Invoke(Builder.Services);
        Builder.Services.AddHttpClient(client, c => c.BaseAddress = new Uri($"http://{client}")).AddMeshHandler();
        return Builder.Build();
    }

    public static async Task<OptionsValidationException> StartFailureAsync(IHost host)
    {
        var error = await Record.ExceptionAsync(() => host.StartAsync(Token));
        return error switch
        {
            OptionsValidationException validation => validation,
            AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
                new OptionsValidationException("", typeof(object), aggregate.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures)),
            null => throw Xunit.Sdk.FailException.ForFailure("The host started, but the configuration is invalid."),
            _ => throw Xunit.Sdk.FailException.ForFailure($"The host failed to start with {error.GetType().Name} instead of a validation error: {error}"),
        };
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds, as an operator watching a dashboard would.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan within, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), within, what);

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {within} waiting until {what}.");
            }

            await Task.Delay(25, Token);
        }
    }

    public static async Task<string> GetReplicaAsync(IHost host, string client = "catalog")
    {
        var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(client);
        using var response = await http.GetAsync("/", Token);
        response.EnsureSuccessStatusCode();
        return string.Join(",", response.Headers.GetValues(Mesh.Testing.InProcessReplica.ReplicaHeader));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still hold the folder for a moment; it is a temporary folder.
        }
    }
}
