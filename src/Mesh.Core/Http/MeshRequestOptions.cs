namespace Mesh;

/// <summary>Per-request options understood or filled by the mesh handler (<c>request.Options</c>).</summary>
public static class MeshRequestOptions
{
    /// <summary>The consistent-hashing key of a request, for services using <see cref="LoadBalancerKind.ConsistentHash"/>.
    /// Takes precedence over the service's <c>HashHeader</c>. Set it with <c>request.Options.Set(MeshRequestOptions.HashKey, key)</c>.</summary>
    public static HttpRequestOptionsKey<string> HashKey { get; } = new("Mesh.HashKey");

    /// <summary>Filled by the mesh when the request has options already (a resilience handler or the app put something
    /// there): the endpoint that answered the request's last attempt. The mesh does not create a request's options
    /// just for this (they cost 240 bytes a request); read the endpoint with
    /// <see cref="MeshHttpResponseMessageExtensions.GetMeshEndpoint(HttpResponseMessage)"/>, which always has it (the
    /// request's method, equal to the caller's once the call returns, carries it).</summary>
    public static HttpRequestOptionsKey<MeshEndpoint> Endpoint { get; } = new("Mesh.Endpoint");
}

/// <summary>What the mesh knows about a response.</summary>
public static class MeshHttpResponseMessageExtensions
{
    /// <summary>The endpoint of the mesh service that answered with this response (after retries: the last attempt's),
    /// or <see langword="null"/> when the request did not go through the mesh.</summary>
    /// <param name="response">A response from an <c>HttpClient</c> with <c>AddMeshHandler()</c>.</param>
    /// <returns>The endpoint, for example <c>http://127.0.0.1:5001</c> with its weight, zone and metadata.</returns>
    /// <remarks>The mesh records the endpoint without allocating: once the call returns, the request's
    /// <see cref="HttpRequestMessage.Method"/> is an <see cref="HttpMethod"/> equal to the one you set (same name, same
    /// case, <c>==</c> and <see cref="HttpMethod.Equals(HttpMethod)"/> hold) that carries it. Compare methods with
    /// <c>==</c>, not by reference; a resend through the mesh goes out with your own instance again. To build a new
    /// request from an answered one for a client without the mesh, give it a method of your own (a reused one still
    /// names the endpoint that answered the first).</remarks>
    public static MeshEndpoint? GetMeshEndpoint(this HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.RequestMessage switch
        {
            { Method: Http.Internal.AnsweredMethod answered } => answered.Endpoint,
            { } request when Http.Internal.RequestOptions.Existing(request) is { } options && options.TryGetValue(MeshRequestOptions.Endpoint, out var endpoint) => endpoint,
            _ => null,
        };
    }
}
