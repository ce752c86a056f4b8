namespace Mesh.Endpoints.Internal;

/// <summary>
/// Which endpoints of a service a request may use, by scheme, from the scheme of its logical URI — the meaning
/// Microsoft.Extensions.ServiceDiscovery gives <c>https+http://catalog</c> (an ordered list of allowed schemes: the
/// endpoints of the first scheme the service has are used, the others not at all), without ever turning a request that
/// asked for <c>https</c> only into clear text.
/// </summary>
internal enum SchemePreference
{
    /// <summary><c>http://</c> on a service of the mesh's own configuration: every endpoint, each with its own scheme.</summary>
    Any = 0,

    /// <summary><c>http+https://</c> (and <c>http://</c> on a service read from the <c>Services</c> section): the
    /// service's http endpoints while it has any, else its https ones.</summary>
    HttpFirst,

    /// <summary><c>https+http://</c>: the service's https endpoints while it has any, else its http ones.</summary>
    HttpsFirst,

    /// <summary><c>https://</c>: https endpoints only; a service without any fails the request rather than send it in clear text.</summary>
    HttpsOnly,
}

/// <summary>Reads a <see cref="SchemePreference"/> from the scheme of a logical URI, allocation-free for the four spellings.</summary>
internal static class SchemePreferences
{
    /// <summary>The schemes a logical URI may have.</summary>
    public const string Allowed = "http, https, https+http, http+https";

    /// <summary>The preference of a logical URI's scheme (Uri lower-cases schemes).</summary>
    /// <param name="scheme">The logical URI's scheme.</param>
    /// <param name="httpMeansHttpFirst">Whether plain <c>http</c> means <see cref="SchemePreference.HttpFirst"/> (services
    /// read from the <c>Services</c> section, as Microsoft.Extensions.ServiceDiscovery reads them) rather than
    /// <see cref="SchemePreference.Any"/>.</param>
    /// <param name="preference">The preference.</param>
    /// <returns>False for any other scheme.</returns>
    public static bool TryParse(string scheme, bool httpMeansHttpFirst, out SchemePreference preference)
    {
        switch (scheme)
        {
            case "http":
                preference = httpMeansHttpFirst ? SchemePreference.HttpFirst : SchemePreference.Any;
                return true;
            case "https":
                preference = SchemePreference.HttpsOnly;
                return true;
            case "https+http":
                preference = SchemePreference.HttpsFirst;
                return true;
            case "http+https":
                preference = SchemePreference.HttpFirst;
                return true;
            default:
                preference = default;
                return false;
        }
    }
}
