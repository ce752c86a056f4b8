using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration.Internal;

/// <summary>
/// The one configuration dialect of every Mesh package (this file is compiled into each library; it is not public API).
/// It reads what the configuration binder cannot express strictly, and hands the rest to the binder source generator:
/// <list type="bullet">
/// <item>time spans only as <c>[d.]hh:mm:ss[.fffffff]</c> — a bare number is refused, never read as days;</item>
/// <item>enums only by member name — digits are refused; flags as names separated by <c>,</c>, <c>;</c> or <c>|</c> (or an array);</item>
/// <item>lists as an array or as one value with items separated by <c>,</c> or <c>;</c>; a plain value at a list key
/// replaces the items of earlier configuration providers (an environment variable overriding an appsettings.json array);</item>
/// <item>every problem is collected, not thrown, each naming the full key of the section that was bound, the value and
/// what is allowed, so that start-up reports all of them at once;</item>
/// <item>an empty or whitespace-only value counts as absent (the default stays).</item>
/// </list>
/// </summary>
internal sealed class ConfigurationReader
{
    /// <summary>The separators of a list written as one value.</summary>
    public static readonly char[] ListSeparators = [',', ';'];

    /// <summary>The separators of a flags value (a list of enum names).</summary>
    public static readonly char[] FlagSeparators = [',', ';', '|'];

    private const string TimeSpanFormat = "use hh:mm:ss[.fff], for example 00:00:05 or 00:00:00.250";

    private readonly IConfigurationRoot? _root;
    private readonly string? _rootPath;

    /// <summary>Creates a reader that records problems in <paramref name="errors"/>.</summary>
    /// <param name="errors">Where problems go.</param>
    /// <param name="root">The configuration root the read sections belong to, when known: it tells which provider wrote a
    /// value, so that a plain value at a list key replaces only the items of earlier providers.</param>
    /// <param name="rootPath">The key messages give a configuration root read in place of a section (for example
    /// <c>Mesh:Identity</c>).</param>
    public ConfigurationReader(List<string> errors, IConfigurationRoot? root = null, string? rootPath = null)
    {
        Errors = errors;
        _root = root;
        _rootPath = rootPath;
    }

    /// <summary>The problems found so far.</summary>
    public List<string> Errors { get; }

    /// <summary>The full key of <paramref name="key"/> under <paramref name="section"/>.</summary>
    public static string PathOf(IConfiguration section, string key, string? rootPath = null) =>
        section is IConfigurationSection s && s.Path.Length > 0 ? ConfigurationPath.Combine(s.Path, key)
        : rootPath is not null ? ConfigurationPath.Combine(rootPath, key)
        : key;

    private string KeyOf(IConfiguration section, string key) => PathOf(section, key, _rootPath);

    /// <summary>The path of <paramref name="section"/>, or <paramref name="fallback"/> for a configuration root.</summary>
    public static string SectionPath(IConfiguration section, string fallback) =>
        section is IConfigurationSection s && s.Path.Length > 0 ? s.Path : fallback;

    /// <summary>The raw value, or <see langword="null"/> when absent, empty or whitespace.</summary>
    public static string? Value(IConfiguration section, string key) =>
        section[key] is { } raw && !string.IsNullOrWhiteSpace(raw) ? raw.Trim() : null;

    /// <summary>Whether the key is present with an empty or whitespace value (for keys where empty clears a setting).</summary>
    public static bool IsBlank(IConfiguration section, string key) => section[key] is { } raw && string.IsNullOrWhiteSpace(raw);

    public string? String(IConfiguration section, string key) => Value(section, key);

    public int? Int32(IConfiguration section, string key)
    {
        if (Value(section, key) is not { } raw)
        {
            return null;
        }

        if (TryInt32(raw, out var value))
        {
            return value;
        }

        Errors.Add($"{KeyOf(section, key)}: '{raw}' is not an integer.");
        return null;
    }

    public double? Double(IConfiguration section, string key)
    {
        if (Value(section, key) is not { } raw)
        {
            return null;
        }

        if (TryDouble(raw, out var value))
        {
            return value;
        }

        Errors.Add($"{KeyOf(section, key)}: '{raw}' is not a number.");
        return null;
    }

    public bool? Boolean(IConfiguration section, string key)
    {
        if (Value(section, key) is not { } raw)
        {
            return null;
        }

        if (bool.TryParse(raw, out var value))
        {
            return value;
        }

        Errors.Add($"{KeyOf(section, key)}: '{raw}' is not valid; allowed values: true, false.");
        return null;
    }

    public TimeSpan? TimeSpan(IConfiguration section, string key)
    {
        if (Value(section, key) is not { } raw)
        {
            return null;
        }

        if (TryTimeSpan(raw, out var value))
        {
            return value;
        }

        Errors.Add($"{KeyOf(section, key)}: '{raw}' is not a time span; {TimeSpanFormat}.");
        return null;
    }

    public T? Enum<T>(IConfiguration section, string key)
        where T : struct, Enum
    {
        if (Value(section, key) is not { } raw)
        {
            return null;
        }

        if (TryEnum<T>(raw, out var value))
        {
            return value;
        }

        Errors.Add($"{KeyOf(section, key)}: '{raw}' is not valid; allowed values: {string.Join(", ", System.Enum.GetNames<T>())}.");
        return null;
    }

    /// <summary>A flags value: member names separated by <c>,</c>, <c>;</c> or <c>|</c>, or an array of names.</summary>
    public T? Flags<T>(IConfigurationSection section, string key)
        where T : struct, Enum
    {
        var items = List(section.GetSection(key), FlagSeparators);
        if (items.Count == 0)
        {
            return null;
        }

        ulong bits = 0;
        var valid = true;
        foreach (var item in items)
        {
            if (item.Value is { } name && TryEnum<T>(name, out var flag))
            {
                bits |= Convert.ToUInt64(flag, CultureInfo.InvariantCulture);
            }
            else
            {
                Errors.Add($"{KeyOf(section, key)}: '{item.Value ?? "(a section)"}' is not valid; allowed values (comma-separated): {string.Join(", ", System.Enum.GetNames<T>())}.");
                valid = false;
            }
        }

        return valid ? (T)System.Enum.ToObject(typeof(T), bits) : null;
    }

    /// <summary>
    /// The items of a list key: the children of an array, or the parts of a plain value split at
    /// <paramref name="separators"/> (<see cref="ListSeparators"/> by default). When both exist (configuration providers
    /// merge arrays by index, so an environment variable <c>X__Endpoints=...</c> lands next to an appsettings.json array
    /// at <c>X:Endpoints:0..n</c>), the later provider wins: a plain value replaces the items of earlier providers, and
    /// items of later providers replace an earlier plain value. Without a known root, a plain value wins.
    /// </summary>
    public IReadOnlyList<ListItem> List(IConfigurationSection list, char[]? separators = null)
    {
        var plain = string.IsNullOrWhiteSpace(list.Value) ? null : list.Value; // blank counts as absent
        var children = list.GetChildren().ToList();
        if (plain is not null && children.Count > 0 && _root is not null)
        {
            var valueProvider = LastProvider(list.Path, withValue: true); // the provider whose value is in effect
            var childProviders = LastProvider(list.Path, withValue: false);
            if (childProviders > valueProvider)
            {
                // Items written after the plain value: only theirs count (earlier items were replaced by the value).
                var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                var providers = _root.Providers.ToList();
                for (var i = valueProvider + 1; i < providers.Count; i++)
                {
                    keys.UnionWith(providers[i].GetChildKeys([], list.Path));
                }

                children = [.. children.Where(c => keys.Contains(c.Key))];
                plain = null;
            }
        }

        if (plain is null)
        {
            return [.. children.Select(c => new ListItem(c.Path, c.Value is { } v && !c.GetChildren().Any() ? v.Trim() : null, c))];
        }

        var parts = plain.Split(separators ?? ListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length switch
        {
            0 => [],
            1 => [new ListItem(list.Path, parts[0], null)],
            _ => [.. parts.Select((p, i) => new ListItem($"{list.Path} (item {(i + 1).ToString(CultureInfo.InvariantCulture)} of {parts.Length.ToString(CultureInfo.InvariantCulture)})", p, null))],
        };
    }

    /// <summary>A list of strings (see <see cref="List"/>) joined by commas, or <see langword="null"/> when the key is absent.</summary>
    public string? JoinedList(IConfigurationSection section, string key)
    {
        var list = section.GetSection(key);
        if (list.Value is null && !list.GetChildren().Any())
        {
            return null;
        }

        var items = List(list);
        foreach (var item in items.Where(i => i.Value is null))
        {
            Errors.Add($"{item.Path}: a section where a value was expected; write the items as strings.");
        }

        return string.Join(",", items.Where(i => i.Value is not null).Select(i => i.Value));
    }

    /// <summary>
    /// Checks the raw value of every key in <paramref name="keys"/> strictly (recording each problem), then binds what
    /// passed to <paramref name="target"/> with <paramref name="bind"/> — a call of the configuration binder source
    /// generator. The binder sees only checked, normalised values of the listed keys, so it can neither throw at the first
    /// bad value nor read a bare number as days; keys not listed are left to the caller.
    /// </summary>
    public void Bind<T>(IConfiguration section, T target, IReadOnlyList<ConfigurationKey> keys, Action<IConfiguration, T> bind)
    {
        var checkedValues = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            if (key.Kind == ConfigurationValueKind.Map)
            {
                foreach (var entry in section.GetSection(key.Name).GetChildren())
                {
                    if (entry.Value is { } value)
                    {
                        checkedValues[ConfigurationPath.Combine(key.Name, entry.Key)] = value;
                    }
                }

                continue;
            }

            if (Value(section, key.Name) is not { } raw)
            {
                continue;
            }

            if (key.Normalize(raw) is { } normalized)
            {
                checkedValues[key.Name] = normalized;
            }
            else
            {
                Errors.Add($"{KeyOf(section, key.Name)}: '{raw}' {key.Problem}.");
            }
        }

        if (checkedValues.Count > 0)
        {
            bind(new ConfigurationBuilder().AddInMemoryCollection(checkedValues).Build(), target);
        }
    }

    public static bool TryInt32(string raw, out int value) =>
        int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    public static bool TryDouble(string raw, out double value) =>
        double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>A time span with at least one <c>:</c>: <c>TimeSpan</c> would read a bare number as days ("30" = 30 days).</summary>
    public static bool TryTimeSpan(string raw, out TimeSpan value)
    {
        value = default;
        return raw.Contains(':', StringComparison.Ordinal) && System.TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A member name only: no digits (which <c>Enum.Parse</c> takes as any value) and no lists.</summary>
    public static bool TryEnum<T>(string raw, out T value)
        where T : struct, Enum
    {
        value = default;
        return raw.Length > 0 && !char.IsDigit(raw[0]) && raw[0] is not ('-' or '+') && raw.IndexOfAny(FlagSeparators) < 0 &&
            System.Enum.TryParse(raw, ignoreCase: true, out value) && System.Enum.IsDefined(value);
    }

    private int LastProvider(string path, bool withValue)
    {
        var providers = _root!.Providers.ToList();
        for (var i = providers.Count - 1; i >= 0; i--)
        {
            var found = withValue
                ? providers[i].TryGet(path, out var value) && value is not null
                : providers[i].GetChildKeys([], path).Any();
            if (found)
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>One item of a list key: its full key, and its value when it is a plain value (else <see cref="Section"/>).</summary>
/// <param name="Path">The full key, for messages.</param>
/// <param name="Value">The trimmed value of a plain item; <see langword="null"/> for an object.</param>
/// <param name="Section">The item's section (for objects); <see langword="null"/> for a part of a plain value.</param>
internal readonly record struct ListItem(string Path, string? Value, IConfigurationSection? Section);

/// <summary>The kinds of values the strict check of <see cref="ConfigurationReader.Bind"/> knows.</summary>
internal enum ConfigurationValueKind
{
    String,
    Int32,
    Double,
    Boolean,
    TimeSpan,
    Enum,

    /// <summary>A map of strings (<c>Key:{name}</c>), bound as it is.</summary>
    Map,
}

/// <summary>A key the binder may bind, with its kind (what the strict check accepts).</summary>
internal sealed class ConfigurationKey
{
    private readonly Func<string, string?> _normalize;

    private ConfigurationKey(string name, ConfigurationValueKind kind, string problem, Func<string, string?> normalize)
    {
        Name = name;
        Kind = kind;
        Problem = problem;
        _normalize = normalize;
    }

    public string Name { get; }

    public ConfigurationValueKind Kind { get; }

    /// <summary>What is wrong with a value that does not pass, after the quoted value: "is not an integer".</summary>
    public string Problem { get; }

    /// <summary>The value in the form the binder reads back exactly, or <see langword="null"/> when it does not pass.</summary>
    public string? Normalize(string raw) => _normalize(raw);

    public static ConfigurationKey String(string name) => new(name, ConfigurationValueKind.String, "", static raw => raw);

    public static ConfigurationKey Int32(string name) => new(name, ConfigurationValueKind.Int32, "is not an integer",
        static raw => ConfigurationReader.TryInt32(raw, out var v) ? v.ToString(CultureInfo.InvariantCulture) : null);

    public static ConfigurationKey Double(string name) => new(name, ConfigurationValueKind.Double, "is not a number",
        static raw => ConfigurationReader.TryDouble(raw, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : null);

    public static ConfigurationKey Boolean(string name) => new(name, ConfigurationValueKind.Boolean, "is not valid; allowed values: true, false",
        static raw => bool.TryParse(raw, out var v) ? (v ? "true" : "false") : null);

    public static ConfigurationKey TimeSpan(string name) => new(name, ConfigurationValueKind.TimeSpan,
        "is not a time span; use hh:mm:ss[.fff], for example 00:00:05 or 00:00:00.250",
        static raw => ConfigurationReader.TryTimeSpan(raw, out var v) ? v.ToString("c", CultureInfo.InvariantCulture) : null);

    public static ConfigurationKey Enum<T>(string name)
        where T : struct, Enum => new(name, ConfigurationValueKind.Enum, $"is not valid; allowed values: {string.Join(", ", System.Enum.GetNames<T>())}",
        static raw => ConfigurationReader.TryEnum<T>(raw, out var v) ? v.ToString() : null);

    public static ConfigurationKey Map(string name) => new(name, ConfigurationValueKind.Map, "", static raw => raw);
}
