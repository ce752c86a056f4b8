using Mesh.Identity;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration.Internal;

/// <summary>
/// The limits of every option of Mesh.Core, checked by code the options validation source generator writes from the
/// <see cref="AllowedRangeAttribute"/>s on the options (as <c>HttpStandardResilienceOptionsValidator</c> does in
/// Microsoft.Extensions.Http.Resilience). The rules across fields are hand-written in <see cref="MeshOptionsValidator"/>,
/// which calls these with the configuration path of each object as the name, so that messages name the bound section.
/// </summary>
[OptionsValidator]
internal sealed partial class MeshOptionsRanges :
    IValidateOptions<MeshOptions>,
    IValidateOptions<MeshServiceOptions>,
    IValidateOptions<MeshEndpointOptions>,
    IValidateOptions<HealthCheckOptions>,
    IValidateOptions<OutlierDetectionOptions>,
    IValidateOptions<SlowStartOptions>,
    IValidateOptions<RetryBudgetOptions>,
    IValidateOptions<PeakEwmaOptions>,
    IValidateOptions<HedgingOptions>,
    IValidateOptions<MeshIdentityOptions>
{
    public static readonly MeshOptionsRanges Instance = new();

    /// <summary>Adds the failures of <paramref name="result"/> to <paramref name="errors"/>.</summary>
    public static void AddTo(List<string> errors, ValidateOptionsResult result)
    {
        if (result.Failed && result.Failures is { } failures)
        {
            errors.AddRange(failures);
        }
    }
}
