using Mesh.Http.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration.Internal;

/// <summary>Reads a configuration section into <see cref="MeshOptions"/> (before code-first actions registered later run).</summary>
/// <param name="section">The section shaped like <c>Mesh</c>; none for code-only configuration.</param>
/// <param name="app">The app's configuration: its <c>Services</c> section (Microsoft.Extensions.ServiceDiscovery), and the
/// root the section belongs to (which provider wrote what).</param>
internal sealed class MeshConfigureOptions(IConfiguration? section, IConfiguration? app) : IConfigureOptions<MeshOptions>
{
    public void Configure(MeshOptions options)
    {
        if (section is not null)
        {
            MeshConfigurationReader.Read(section, options, MeshConfigurationSection.RootOf(section, app));
        }

        if (app is not null)
        {
            MeshConfigurationReader.ReadServiceDiscovery(app, options);
        }
    }
}

/// <summary>Marks a configuration binding as registered, so a second AddMeshClient call with the same source is harmless.</summary>
internal sealed record MeshConfigurationMarker(object Source);


/// <summary>
/// The <see cref="IValidateOptions{TOptions}"/> of <see cref="MeshOptions"/> (validated on start, and by
/// <see cref="LastGoodOptionsMonitor{TOptions}"/> on every reload): <see cref="MeshOptionsValidator"/>, given what it needs
/// from the container — the registered discovery providers' names and whether an identity source is registered.
/// </summary>
internal sealed class MeshOptionsValidation(IServiceProvider services) : IValidateOptions<MeshOptions>
{
    [ThreadStatic]
    private static bool t_resolvingProviders;

    public ValidateOptionsResult Validate(string? name, MeshOptions options)
    {
        var hasIdentitySource = services.GetService<IServiceProviderIsService>()?.IsService(typeof(Mesh.Identity.IMeshIdentitySource)) == true;
        var balancers = Mesh.LoadBalancing.Internal.LoadBalancerCatalog.Create(services.GetServices<MeshLoadBalancer>());
        var errors = MeshOptionsValidator.Validate(options, ProviderNames(), hasIdentitySource, balancers);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>
    /// The names of the registered discovery providers, or <see langword="null"/> when they cannot be built now: a
    /// provider whose own options do not validate (their validation reports why), or a provider that itself asks for the
    /// mesh's options while being built (the names are then checked by the outer validation).
    /// </summary>
    private string[]? ProviderNames()
    {
        if (t_resolvingProviders)
        {
            return null;
        }

        t_resolvingProviders = true;
        try
        {
            return [.. services.GetServices<Mesh.Discovery.IMeshDiscoveryProvider>().Select(p => p.Name)];
        }
        catch (OptionsValidationException)
        {
            return null;
        }
        finally
        {
            t_resolvingProviders = false;
        }
    }
}

/// <summary>
/// Checks on start that every HttpClient with <c>AddMeshHandler()</c> targets a mesh service (its BaseAddress host or the
/// pinned name), and that some configuration was added at all. Skipped while the mesh's own options do not validate:
/// their validation reports that.
/// </summary>
internal sealed class MeshHandlerRegistrationsValidator(IServiceProvider services) : IValidateOptions<MeshHandlerRegistrations>
{
    public ValidateOptionsResult Validate(string? name, MeshHandlerRegistrations registrations)
    {
        MeshOptions options;
        try
        {
            options = services.GetRequiredService<IOptionsMonitor<MeshOptions>>().CurrentValue;
        }
        catch (OptionsValidationException)
        {
            return ValidateOptionsResult.Skip;
        }

        var known = new SortedSet<string>(options.Services.Keys.Select(k => k.ToLowerInvariant()), StringComparer.Ordinal);
        if (options.ReadServiceDiscoveryConfiguration)
        {
            known.UnionWith(options.ServiceDiscoveryServices.Keys.Select(k => k.ToLowerInvariant()));
        }

        var errors = new List<string>();
        if (registrations.Clients.Count > 0 && services.GetService<MeshConfigurationMarker>() is null && known.Count == 0)
        {
            errors.Add("AddMeshHandler() was used but no services are configured: call services.AddMeshClient() (binds the 'Mesh' configuration section) or AddMeshClient(options => ...).");
        }

        var factory = services.GetRequiredService<IHttpClientFactory>();
        foreach (var (client, pinned) in options.PassThroughUnknownHosts ? [] : registrations.Clients)
        {
            var host = pinned;
            if (host is null)
            {
                try
                {
                    host = factory.CreateClient(client).BaseAddress?.IdnHost;
                }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
                {
                    continue; // the client cannot be created outside its own context; checked on its first request
                }
            }

            if (host is not null && !known.Contains(host.ToLowerInvariant()))
            {
                errors.Add($"HttpClient '{client}' uses AddMeshHandler() and targets '{host}', which is not a mesh service (no {options.SectionPath}:Services:{host} section). " +
                    $"Known services: {(known.Count > 0 ? string.Join(", ", known) : "none")}.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Builds the mesh when the host starts (after the options validated): discovery watches and active health
/// checks run from the start, not from the first request.</summary>
internal sealed class MeshStartup(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<MeshRegistry>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
