using System.Collections.Frozen;

namespace Mesh;

/// <summary>
/// One network address of a logical service, as published by configuration or a discovery provider.
/// Immutable, with value equality on every member, so that an unchanged endpoint set can be recognised and
/// the statistics and health of endpoints that stay are kept across updates.
/// </summary>
public sealed class MeshEndpoint : IEquatable<MeshEndpoint>
{
    private static readonly FrozenDictionary<string, string> s_noMetadata = FrozenDictionary<string, string>.Empty;

    /// <summary>Creates an endpoint.</summary>
    /// <param name="address">An absolute <c>http</c> or <c>https</c> address with no path, query or fragment, such as <c>http://10.0.0.5:8080</c>.</param>
    /// <param name="weight">The relative share of traffic; must be positive. Defaults to 1.</param>
    /// <param name="zone">The zone (failure domain) the endpoint runs in, or <see langword="null"/>.</param>
    /// <param name="metadata">Free-form labels such as <c>version=v1</c>, used for traffic splits.</param>
    /// <exception cref="ArgumentException">The address is not an absolute http(s) address with an empty path, or the weight is not positive.</exception>
    public MeshEndpoint(Uri address, int weight = 1, string? zone = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!TryValidateAddress(address, out var error))
        {
            throw new ArgumentException(error, nameof(address));
        }

        if (weight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "The weight of an endpoint must be a positive integer.");
        }

        Address = address;
        Weight = weight;
        Zone = string.IsNullOrWhiteSpace(zone) ? null : zone;
        Metadata = metadata is null || metadata.Count == 0 ? s_noMetadata : metadata.ToFrozenDictionary(StringComparer.Ordinal);
        Key = CreateKey(address);
    }

    /// <summary>Creates an endpoint from an address string; see <see cref="MeshEndpoint(Uri, int, string?, IReadOnlyDictionary{string, string}?)"/>.</summary>
    public MeshEndpoint(string address, int weight = 1, string? zone = null, IReadOnlyDictionary<string, string>? metadata = null)
        : this(ParseAddress(address), weight, zone, metadata)
    {
    }

    /// <summary>The absolute address requests are sent to (scheme, host and port).</summary>
    public Uri Address { get; }

    /// <summary>The relative share of traffic (positive; 1 by default).</summary>
    public int Weight { get; }

    /// <summary>The zone the endpoint runs in, or <see langword="null"/> when unknown.</summary>
    public string? Zone { get; }

    /// <summary>Free-form labels (for example <c>version=v1</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The identity of the endpoint within a service: its normalised <c>scheme://host:port</c>.
    /// Two endpoints with the same key are the same endpoint, even if weight, zone or metadata differ.</summary>
    public string Key { get; }

    /// <summary>Checks that <paramref name="address"/> can be an endpoint address.</summary>
    /// <param name="address">The candidate address.</param>
    /// <param name="error">Why it cannot, when it cannot.</param>
    /// <returns><see langword="true"/> when the address is absolute, http or https, and has no path, query, fragment or user info.</returns>
    public static bool TryValidateAddress(Uri address, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri)
        {
            error = $"'{address}' is not an absolute address; expected scheme://host:port, for example http://127.0.0.1:5001.";
            return false;
        }

        if (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
        {
            error = $"'{address}' has the scheme '{address.Scheme}'; allowed schemes: http, https.";
            return false;
        }

        if (address.AbsolutePath != "/" || address.Query.Length != 0 || address.Fragment.Length != 0 || address.UserInfo.Length != 0)
        {
            error = $"'{address}' has a path, query, fragment or user info; an endpoint address is only scheme://host:port.";
            return false;
        }

        error = null;
        return true;
    }

    internal static string CreateKey(Uri address) => address.HostNameType == UriHostNameType.IPv6
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{address.Scheme}://[{address.IdnHost}]:{address.Port}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{address.Scheme}://{address.IdnHost}:{address.Port}");

    private static Uri ParseAddress(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        return Uri.TryCreate(address.Trim(), UriKind.Absolute, out var uri)
            ? uri
            : throw new ArgumentException($"'{address}' is not an absolute address; expected scheme://host:port, for example http://127.0.0.1:5001.", nameof(address));
    }

    /// <inheritdoc />
    public bool Equals(MeshEndpoint? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || other.Key != Key || other.Weight != Weight || other.Zone != Zone || other.Metadata.Count != Metadata.Count)
        {
            return false;
        }

        foreach (var (name, value) in Metadata)
        {
            if (!other.Metadata.TryGetValue(name, out var otherValue) || otherValue != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as MeshEndpoint);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Key, Weight, Zone);

    /// <inheritdoc />
    public override string ToString() => Weight == 1 && Zone is null ? Key : $"{Key} (weight {Weight}{(Zone is null ? "" : ", zone " + Zone)})";
}
