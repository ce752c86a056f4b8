using Mesh.Services.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration.Internal;

/// <summary>Reads a configuration section into <see cref="MeshOptions"/> (before code-first actions run).</summary>
internal sealed class MeshConfigureOptions(IConfiguration? section, IConfiguration? root) : IConfigureOptions<MeshOptions>
{
    public void Configure(MeshOptions options)
    {
        if (section is not null)
        {
            MeshConfigurationReader.Read(section, options);
        }

        if (root is not null)
        {
            MeshConfigurationReader.ReadServiceDiscovery(root, options);
        }
    }
}

/// <summary>Marks a configuration binding as registered, so a second AddMeshClient call with the same source is harmless.</summary>
internal sealed record MeshConfigurationMarker(object Source);

/// <summary>The named HttpClients that use the mesh handler, and the service each pins (null: the BaseAddress host).</summary>
internal sealed class MeshHandlerRegistrations
{
    public Dictionary<string, string?> Clients { get; } = new(StringComparer.Ordinal);
}

/// <summary>The target of the mesh's validate-on-start check (the check itself is <see cref="MeshStartupValidator"/>).</summary>
internal sealed class MeshStartupCheck;

/// <summary>
/// Runs when the host starts: builds the registry (which validates the configuration, naming each bad key) and checks
/// that every HttpClient with <c>AddMeshHandler()</c> points at a known service. A failure stops the host with an
/// <see cref="OptionsValidationException"/> listing every problem.
/// </summary>
internal sealed class MeshStartupValidator(IServiceProvider services) : IValidateOptions<MeshStartupCheck>
{
    public ValidateOptionsResult Validate(string? name, MeshStartupCheck options)
    {
        MeshRegistry registry;
        try
        {
            registry = services.GetRequiredService<MeshRegistry>();
        }
        catch (OptionsValidationException ex)
        {
            return ValidateOptionsResult.Fail(ex.Failures);
        }

        var errors = new List<string>();
        if (services.GetService<MeshConfigurationMarker>() is null && !registry.ServiceNames.Any())
        {
            errors.Add("AddMeshHandler() was used but no services are configured: call services.AddMeshClient() (binds the 'Mesh' configuration section) or AddMeshClient(options => ...).");
        }

        var registrations = services.GetRequiredService<IOptions<MeshHandlerRegistrations>>().Value;
        var factory = services.GetRequiredService<IHttpClientFactory>();
        foreach (var (client, pinned) in registrations.Clients)
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

            if (host is not null && !registry.TryGetService(host, out _) && !registry.PassThroughUnknownHosts)
            {
                errors.Add($"HttpClient '{client}' uses AddMeshHandler() and targets '{host}', which is not a mesh service (no Mesh:Services:{host} section). " +
                    $"Known services: {(registry.ServiceNames.Any() ? string.Join(", ", registry.ServiceNames.Order(StringComparer.Ordinal)) : "none")}.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
