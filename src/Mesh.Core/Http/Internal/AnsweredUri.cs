namespace Mesh.Http.Internal;

/// <summary>
/// The logical request URI (<c>http://{service}/...</c>, equal to the caller's in every respect) that the mesh puts back
/// on a request once an endpoint answered it, carrying that endpoint for
/// <see cref="MeshHttpResponseMessageExtensions.GetMeshEndpoint(HttpResponseMessage)"/>. Recording the endpoint this
/// way costs nothing on a repeated path (each endpoint keeps its last one; a <see cref="Uri"/> is immutable) and one
/// small object on a new one, where <see cref="HttpRequestMessage.Options"/> would cost its dictionary (240 bytes) on
/// every request.
/// </summary>
internal sealed class AnsweredUri : Uri
{
    public AnsweredUri(string logical, MeshEndpoint endpoint)
        : base(logical, UriKind.Absolute) => Endpoint = endpoint;

    /// <summary>The endpoint that answered.</summary>
    public MeshEndpoint Endpoint { get; }
}

/// <summary>A request's <see cref="HttpRequestMessage.Options"/> without creating them: reading
/// <c>request.Options</c> allocates the options and their dictionary (104 bytes) even to find nothing.</summary>
internal static class RequestOptions
{
    private static bool s_unavailable;

    /// <summary>The request's options if anything created them, else null. Falls back to <c>request.Options</c> (which
    /// creates them) on a runtime whose <see cref="HttpRequestMessage"/> keeps them elsewhere.</summary>
    public static HttpRequestOptions? Existing(HttpRequestMessage request)
    {
        if (!s_unavailable)
        {
            try
            {
                return OptionsField(request);
            }
            catch (MissingFieldException)
            {
                s_unavailable = true;
            }
        }

        return request.Options;
    }

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_options")]
    private static extern ref HttpRequestOptions? OptionsField(HttpRequestMessage request);
}
