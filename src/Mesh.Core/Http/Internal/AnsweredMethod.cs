namespace Mesh.Http.Internal;

/// <summary>
/// The request method that the mesh puts back on a request once an endpoint answered it (equal to the caller's:
/// same name, same case), carrying that endpoint for
/// <see cref="MeshHttpResponseMessageExtensions.GetMeshEndpoint(HttpResponseMessage)"/>. Each endpoint keeps one per
/// method instance it answered (<see cref="Mesh.Endpoints.Internal.EndpointState.Answered(HttpMethod)"/>), so recording
/// the endpoint costs nothing on any path, new or repeated: <see cref="HttpRequestMessage.Options"/> would cost their
/// dictionary (240 bytes) on every request, and a URI carrying it (what the mesh used before) a new object per new path.
/// The mesh hands the transport the caller's own method instance again whenever the request is sent anew (a retry, a
/// hedge). Its members are internal, so that a logger destructuring the request does not print the endpoint.
/// </summary>
internal sealed class AnsweredMethod : HttpMethod
{
    public AnsweredMethod(HttpMethod original, MeshEndpoint endpoint)
        : base(original.Method)
    {
        Original = original;
        Endpoint = endpoint;
    }

    /// <summary>The method instance the caller set.</summary>
    internal HttpMethod Original { get; }

    /// <summary>The endpoint that answered.</summary>
    internal MeshEndpoint Endpoint { get; }

    /// <summary>The caller's method behind <paramref name="method"/>: itself unless the mesh put it back after an answer.</summary>
    internal static HttpMethod OriginalOf(HttpMethod method) => method is AnsweredMethod answered ? answered.Original : method;

    /// <summary>Whether <paramref name="method"/> is one of the <see cref="HttpMethod"/> singletons (what
    /// <c>HttpClient.GetAsync</c> and the like, and <see cref="HttpMethod.Parse(ReadOnlySpan{char})"/> for a standard
    /// name, use).</summary>
    internal static bool IsStandard(HttpMethod method) =>
        ReferenceEquals(method, Get) || ReferenceEquals(method, Post) || ReferenceEquals(method, Put) || ReferenceEquals(method, Delete)
        || ReferenceEquals(method, Head) || ReferenceEquals(method, Options) || ReferenceEquals(method, Patch) || ReferenceEquals(method, Trace);
}
