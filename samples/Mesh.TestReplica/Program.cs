using System.Globalization;
using System.Net;
using Mesh.Testing;

// The test replica as a process (for containers): answers with its id, /healthz, and the /control API.
// Environment: REPLICA_ID (default: the host name), REPLICA_VERSION, REPLICA_PORT (default 8080),
// REPLICA_GRPC=true for the gRPC health service (the port then speaks HTTP/2 only, h2c).
var id = Environment.GetEnvironmentVariable("REPLICA_ID") is { Length: > 0 } configured ? configured : Environment.MachineName;
var version = Environment.GetEnvironmentVariable("REPLICA_VERSION") is { Length: > 0 } v ? v : null;
var port = int.Parse(Environment.GetEnvironmentVariable("REPLICA_PORT") ?? "8080", CultureInfo.InvariantCulture);

var grpc = string.Equals(Environment.GetEnvironmentVariable("REPLICA_GRPC"), "true", StringComparison.OrdinalIgnoreCase);
await using var replica = await InProcessReplica.StartAsync(id, new InProcessReplicaOptions { Port = port, Version = version, ListenAddress = IPAddress.Any, EnableGrpc = grpc });
Console.WriteLine($"replica {id} (version {version ?? "none"}) listening on port {port}");

var stopped = new TaskCompletionSource();
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopped.TrySetResult();
});
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopped.TrySetResult(); };
await stopped.Task;
Console.WriteLine($"replica {id} stopping");
