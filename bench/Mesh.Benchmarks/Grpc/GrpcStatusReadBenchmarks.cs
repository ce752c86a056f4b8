using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Http.Internal;
using Mesh.Services.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks.Grpc;

/// <summary>
/// The mesh handler's own cost per call, without a network: the handler over a stub transport that returns a canned
/// response, against the stub alone, in the same run. Each operation sends, reads the body to its end as grpc-dotnet
/// does (a zero-byte read, then reads until 0) and disposes. Three responses: a plain HTTP GET (the unary HTTP path,
/// which the gRPC work must leave unchanged), a gRPC unary response whose status is in the trailers (the content is
/// wrapped and the status read at the end), and a trailers-only gRPC failure (the status read from the headers).
/// </summary>
[MemoryDiagnoser]
public class GrpcStatusReadBenchmarks
{
    private static readonly byte[] s_reply = [0, 0, 0, 0, 4, 0x0a, 0x02, 0x72, 0x30]; // one framed message
    private readonly byte[] _buffer = new byte[4096];
    private ServiceProvider _services = null!;
    private HttpMessageInvoker _stub = null!;
    private HttpMessageInvoker _mesh = null!;

    public enum Response
    {
        HttpGet,
        GrpcTrailers,
        GrpcTrailersOnly,
    }

    [Params(Response.HttpGet, Response.GrpcTrailers, Response.GrpcTrailersOnly)]
    public Response Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddMeshClient(o =>
        {
            var catalog = new MeshServiceOptions { LoadBalancer = LoadBalancerKind.RoundRobin };
            for (var i = 0; i < 3; i++)
            {
                catalog.Endpoints.Add(new MeshEndpointOptions { Address = $"http://10.0.0.{i + 1}:5000" });
            }

            catalog.OutlierDetection.ConsecutiveFailures = 0; // the trailers-only failures must not eject anything
            o.Services["catalog"] = catalog;
        });
        _services = services.BuildServiceProvider();
        _stub = new HttpMessageInvoker(new StubTransport(this), disposeHandler: true);
        _mesh = new HttpMessageInvoker(new MeshHttpHandler(_services.GetRequiredService<MeshRegistry>(), null) { InnerHandler = new StubTransport(this) }, disposeHandler: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stub.Dispose();
        _mesh.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "stub transport alone")]
    public Task<int> Stub() => CallAsync(_stub);

    [Benchmark(Description = "mesh handler over the stub")]
    public Task<int> Mesh() => CallAsync(_mesh);

    private async Task<int> CallAsync(HttpMessageInvoker invoker)
    {
        using var request = Kind == Response.HttpGet
            ? new HttpRequestMessage(HttpMethod.Get, "http://catalog/items")
            : new HttpRequestMessage(HttpMethod.Post, "http://catalog/mesh.testing.v1.ReplicaService/Unary") { Version = HttpVersion.Version20 };
        using var response = await invoker.SendAsync(request, CancellationToken.None);
        var stream = await response.Content.ReadAsStreamAsync();
        var total = await stream.ReadAsync(Memory<byte>.Empty);
        int read;
        while ((read = await stream.ReadAsync(_buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>Answers like a transport: a new response per request (the same work with or without the mesh).</summary>
    private sealed class StubTransport(GrpcStatusReadBenchmarks owner) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Version = request.Version };
            switch (owner.Kind)
            {
                case Response.HttpGet:
                    response.Content = new ByteArrayContent(s_reply);
                    break;
                case Response.GrpcTrailers:
                    response.Content = new ByteArrayContent(s_reply);
                    response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
                    response.TrailingHeaders.TryAddWithoutValidation("grpc-status", "0");
                    break;
                default:
                    response.Content = new ByteArrayContent([]);
                    response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
                    response.Headers.TryAddWithoutValidation("grpc-status", "14");
                    response.Headers.TryAddWithoutValidation("grpc-message", "unavailable");
                    break;
            }

            return Task.FromResult(response);
        }
    }
}
