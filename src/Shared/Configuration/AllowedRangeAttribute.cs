using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Mesh.Configuration.Internal;

/// <summary>
/// The limits of an option, read by the validators the options validation source generator writes
/// (<c>[OptionsValidator]</c>): the <c>&lt;value&gt;</c> documentation of the option states the same limits, so the two
/// cannot drift apart. Like <see cref="RangeAttribute"/> (which Polly and Microsoft.Extensions.Http.Resilience use), but
/// its message follows the Mesh dialect — the full configuration key, the value found and what is allowed — and it needs no
/// type converter (trimming- and AOT-safe). This file is compiled into each library; it is not public API.
/// </summary>
/// <remarks>
/// The key is the display name the generated validator passes: <c>{name}.{Member}</c>, where <c>name</c> is the path of
/// the configuration section the options were read from; it becomes <c>{name}:{Member}</c>.
/// </remarks>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
internal sealed class AllowedRangeAttribute : ValidationAttribute
{
    private readonly IComparable _minimum;
    private readonly IComparable _maximum;
    private readonly string _minimumText;
    private readonly string _maximumText;

    /// <summary>An integer range.</summary>
    public AllowedRangeAttribute(int minimum, int maximum)
    {
        (_minimum, _maximum) = (minimum, maximum);
        (_minimumText, _maximumText) = (minimum.ToString(CultureInfo.InvariantCulture), maximum.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>A range of numbers.</summary>
    public AllowedRangeAttribute(double minimum, double maximum)
    {
        (_minimum, _maximum) = (minimum, maximum);
        (_minimumText, _maximumText) = (minimum.ToString(CultureInfo.InvariantCulture), maximum.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>A range of time spans, written as configuration writes them (<c>hh:mm:ss[.fff]</c>).</summary>
    public AllowedRangeAttribute(string minimum, string maximum)
    {
        (_minimum, _maximum) = (TimeSpan.Parse(minimum, CultureInfo.InvariantCulture), TimeSpan.Parse(maximum, CultureInfo.InvariantCulture));
        (_minimumText, _maximumText) = (minimum, maximum);
    }

    /// <summary>The least allowed value (an <see cref="int"/>, <see cref="double"/> or <see cref="TimeSpan"/>).</summary>
    public object Minimum => _minimum;

    /// <summary>The greatest allowed value.</summary>
    public object Maximum => _maximum;

    /// <summary>Whether the minimum itself is refused ("more than zero").</summary>
    public bool MinimumIsExclusive { get; set; }

    /// <summary>What the message says is allowed, when "minimum to maximum" does not say it well.</summary>
    public string? Allowed { get; set; }

    /// <summary>The allowed values, as messages and documentation state them.</summary>
    public string Describe() => Allowed ?? (MinimumIsExclusive ? $"more than {_minimumText}, up to {_maximumText}" : $"{_minimumText} to {_maximumText}");

    /// <inheritdoc />
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        if (value is null)
        {
            return ValidationResult.Success; // an unset optional value (for example AttemptTimeout)
        }

        var comparable = (IComparable)value;
        var low = comparable.CompareTo(_minimum);
        if ((MinimumIsExclusive ? low > 0 : low >= 0) && comparable.CompareTo(_maximum) <= 0)
        {
            return ValidationResult.Success;
        }

        var shown = value switch
        {
            TimeSpan time => time.ToString("c", CultureInfo.InvariantCulture),
            IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
        return new ValidationResult($"{Key(validationContext)}: {shown} is out of range; allowed: {Describe()}.");
    }

    /// <summary>The configuration key of the validated member: <c>{section path}:{Member}</c>.</summary>
    private static string Key(ValidationContext context)
    {
        var display = context.DisplayName;
        var member = context.MemberName;
        return member is not null && display.EndsWith("." + member, StringComparison.Ordinal)
            ? $"{display[..^(member.Length + 1)]}:{member}"
            : display;
    }
}
