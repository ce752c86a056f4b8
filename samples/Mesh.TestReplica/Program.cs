using System.Globalization;
using System.Net;
using Mesh.Testing;

// The test replica as a process (for containers): answers with its id, /healthz, and the /control API.
// Environment: REPLICA_ID (default: the host name), REPLICA_VERSION, REPLICA_PORT (default 8080).
var id = Environment.GetEnvironmentVariable("REPLICA_ID") is { Length: > 0 } configured ? configured : Environment.MachineName;
var version = Environment.GetEnvironmentVariable("REPLICA_VERSION") is { Length: > 0 } v ? v : null;
var port = int.Parse(Environment.GetEnvironmentVariable("REPLICA_PORT") ?? "8080", CultureInfo.InvariantCulture);

await using var replica = await InProcessReplica.StartAsync(id, new InProcessReplicaOptions { Port = port, Version = version, ListenAddress = IPAddress.Any });
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
