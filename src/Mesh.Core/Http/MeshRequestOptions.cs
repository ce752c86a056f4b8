namespace Mesh;

/// <summary>Per-request options understood by the mesh handler, set with <c>request.Options.Set(...)</c>.</summary>
public static class MeshRequestOptions
{
    /// <summary>The consistent-hashing key of a request, for services using <see cref="LoadBalancerKind.ConsistentHash"/>.
    /// Takes precedence over the service's <c>HashHeader</c>.</summary>
    public static HttpRequestOptionsKey<string> HashKey { get; } = new("Mesh.HashKey");
}
