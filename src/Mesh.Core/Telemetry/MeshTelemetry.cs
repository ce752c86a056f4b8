namespace Mesh;

/// <summary>
/// Names of the mesh's telemetry: one <see cref="System.Diagnostics.ActivitySource"/> and one
/// <see cref="System.Diagnostics.Metrics.Meter"/>, both called <c>Mesh</c>. The libraries use only
/// <c>System.Diagnostics</c> and <c>ILogger</c>; <c>AddMeshInstrumentation()</c> wires them into OpenTelemetry.
/// docs/telemetry.md lists every metric, attribute and log event.
/// </summary>
public static class MeshTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "Mesh";

    /// <summary>Span and metric attribute names.</summary>
    public static class Attributes
    {
        /// <summary>The logical service (<c>catalog</c>).</summary>
        public const string Service = "mesh.service";

        /// <summary>The balancer that chose the endpoint.</summary>
        public const string LoadBalancer = "mesh.load_balancer";

        /// <summary>The attempt's outcome for the endpoint's health: success, connection_failure, timeout, server_error, cancelled.</summary>
        public const string Outcome = "mesh.outcome";

        /// <summary>Whether the attempt was the single probe after an ejection.</summary>
        public const string Probe = "mesh.probe";

        /// <summary>An endpoint health state (healthy, slow_start, probing, ejected, unhealthy).</summary>
        public const string EndpointState = "mesh.endpoint.state";

        /// <summary>The discovery source (Configuration, Dns, Etcd, Docker, ...).</summary>
        public const string DiscoverySource = "mesh.discovery.source";

        /// <summary>The SPIFFE ID the peer presented.</summary>
        public const string PeerSpiffeId = "mesh.peer.spiffe_id";

        /// <summary>The workload's own SPIFFE ID (on the certificate-expiry gauge).</summary>
        public const string WorkloadSpiffeId = "mesh.workload.spiffe_id";

        /// <summary>Why a TLS handshake was refused.</summary>
        public const string TlsFailureReason = "mesh.tls.failure_reason";

        /// <summary>OpenTelemetry semantic convention: the endpoint's host.</summary>
        public const string ServerAddress = "server.address";

        /// <summary>OpenTelemetry semantic convention: the endpoint's port.</summary>
        public const string ServerPort = "server.port";

        /// <summary>OpenTelemetry semantic convention: the ordinal of a resent request (1 for the first retry).</summary>
        public const string ResendCount = "http.request.resend_count";

        /// <summary>OpenTelemetry semantic convention (RPC, gRPC): the numeric gRPC status code the server sent
        /// (<c>0</c> OK, <c>14</c> UNAVAILABLE...), on the request metrics and the gRPC client span of gRPC calls.</summary>
        public const string GrpcStatusCode = "rpc.grpc.status_code";

        /// <summary>OpenTelemetry semantic convention: the class of error that ended an operation.</summary>
        public const string ErrorType = "error.type";
    }
}
