namespace Mesh.Http.Internal;

/// <summary>
/// The request method that the mesh puts back on a request once an endpoint answered it (equal to the caller's:
/// same name, same case), carrying that endpoint for
/// <see cref="MeshHttpResponseMessageExtensions.GetMeshEndpoint(HttpResponseMessage)"/>. Each endpoint keeps one per
/// method it answered (<see cref="Mesh.Endpoints.Internal.EndpointState.Answered(HttpMethod)"/>), so recording the
/// endpoint costs nothing on any path, new or repeated: <see cref="HttpRequestMessage.Options"/> would cost their
/// dictionary (240 bytes) on every request, and a URI carrying it (what the mesh used before) a new object per new path.
/// The mesh hands the transport the caller's own method again whenever the request is sent anew (a retry, a hedge).
/// </summary>
internal sealed class AnsweredMethod : HttpMethod
{
    public AnsweredMethod(HttpMethod original, MeshEndpoint endpoint)
        : base(original.Method)
    {
        Original = original;
        Endpoint = endpoint;
    }

    /// <summary>The method the caller set (one of the <see cref="HttpMethod"/> singletons for the standard methods).</summary>
    public HttpMethod Original { get; }

    /// <summary>The endpoint that answered.</summary>
    public MeshEndpoint Endpoint { get; }

    /// <summary>Whether this carries <paramref name="method"/>: the same instance, or the same name written the same way
    /// (case kept: a custom method goes on the wire as written).</summary>
    public bool Carries(HttpMethod method) =>
        ReferenceEquals(Original, method) || string.Equals(Original.Method, method.Method, StringComparison.Ordinal);

    /// <summary>The caller's method behind <paramref name="method"/>: itself unless the mesh put it back after an answer.</summary>
    public static HttpMethod OriginalOf(HttpMethod method) => method is AnsweredMethod answered ? answered.Original : method;
}
