using Mesh.Testing;

namespace Mesh.Tests.TestSupport;

/// <summary><see cref="TrafficOptions"/> as the tests count: a success is a 2xx answer, named by the replica header ("?" without one).</summary>
internal static class TestTraffic
{
    /// <summary><paramref name="count"/> GETs of <paramref name="path"/> from <paramref name="concurrency"/> workers
    /// (one: one after another), each optionally changed by <paramref name="decorate"/>.</summary>
    public static TrafficOptions Requests(int count, int concurrency = 1, string path = "/", Func<HttpRequestMessage, HttpRequestMessage>? decorate = null) => new()
    {
        RequestCount = count,
        Concurrency = concurrency,
        CreateRequest = () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            decorate?.Invoke(request);
            return request;
        },
        IdentifyReplica = static response => response.Headers.TryGetValues(InProcessReplica.ReplicaHeader, out var v) ? v.First() : "?",
        IsSuccess = static response => response.IsSuccessStatusCode,
    };
}
