namespace Mesh.Http.Internal;

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
