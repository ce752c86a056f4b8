using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.Discovery.Etcd.Internal;

/// <summary>The JSON value of a registry key: <c>{"Address": ..., "Weight": 1, "Zone": ..., "Metadata": {...}}</c>;
/// only <c>Address</c> is required. Property names match case-insensitively; unknown properties are ignored.</summary>
internal sealed class EtcdEndpointRecord
{
    public string? Address { get; set; }

    public int? Weight { get; set; }

    public string? Zone { get; set; }

    public Dictionary<string, string>? Metadata { get; set; }

    /// <summary>Parses a value; on failure says why, for the log line that names the key.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, [NotNullWhen(true)] out MeshEndpoint? endpoint, [NotNullWhen(false)] out string? reason) =>
        TryParse(json, null, out endpoint, out reason);

    /// <summary>Parses a value, sharing equal metadata dictionaries through <paramref name="metadata"/> (instances of one
    /// service usually carry the same few label sets: sharing saves memory and time per endpoint).</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, MetadataInterner? metadata, [NotNullWhen(true)] out MeshEndpoint? endpoint, [NotNullWhen(false)] out string? reason)
    {
        endpoint = null;
        EtcdEndpointRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(json, EtcdJsonContext.Default.EtcdEndpointRecord);
        }
        catch (JsonException ex)
        {
            reason = $"the value is not a JSON object like {{\"Address\": \"http://10.0.0.5:8080\", \"Weight\": 1}} ({ex.Message})";
            return false;
        }

        if (record is null || string.IsNullOrWhiteSpace(record.Address))
        {
            reason = "the value has no \"Address\" (required, for example \"http://10.0.0.5:8080\")";
            return false;
        }

        if (record.Weight is <= 0)
        {
            reason = $"\"Weight\" is {record.Weight}; it must be a positive integer (or absent for 1)";
            return false;
        }

        if (!Uri.TryCreate(record.Address.Trim(), UriKind.Absolute, out var address))
        {
            reason = $"\"Address\" '{record.Address}' is not an absolute address; expected scheme://host:port";
            return false;
        }

        if (!MeshEndpoint.TryValidateAddress(address, out var error))
        {
            reason = $"\"Address\" {error}";
            return false;
        }

        if (record.Metadata is { } raw)
        {
            foreach (var (name, value) in raw)
            {
                if (value is null)
                {
                    reason = $"\"Metadata\" \"{name}\" is null; metadata values are strings, for example \"version\": \"v1\"";
                    return false;
                }
            }
        }

        IReadOnlyDictionary<string, string>? labels = record.Metadata;
        if (metadata is not null && labels is { Count: > 0 })
        {
            labels = metadata.Intern(record.Metadata!);
        }

        endpoint = new MeshEndpoint(address, record.Weight ?? 1, record.Zone, labels);
        reason = null;
        return true;
    }

    public static byte[] Serialize(EtcdEndpointRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, EtcdJsonContext.Default.EtcdEndpointRecord);
}

/// <summary>Shares one frozen dictionary per distinct metadata set (bounded: cleared past 1,024 sets).</summary>
internal sealed class MetadataInterner
{
    private const int MaxSets = 1024;
    private readonly Dictionary<string, FrozenDictionary<string, string>> _sets = new(StringComparer.Ordinal);

    public FrozenDictionary<string, string> Intern(Dictionary<string, string> metadata)
    {
        // Lengths first: names and values may hold any character, so no separator alone keeps two sets apart.
        var key = new StringBuilder();
        foreach (var (name, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            key.Append(name.Length).Append(':').Append(name).Append(value.Length).Append(':').Append(value);
        }

        var text = key.ToString();
        if (_sets.TryGetValue(text, out var shared))
        {
            return shared;
        }

        if (_sets.Count >= MaxSets)
        {
            _sets.Clear();
        }

        shared = metadata.ToFrozenDictionary(StringComparer.Ordinal);
        _sets[text] = shared;
        return shared;
    }
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(EtcdEndpointRecord))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext;
