using Mesh.Testing;

// The test replica as a process: answers with its id, /healthz, and the /control API.
// Environment: REPLICA_ID (default: the host name), REPLICA_VERSION, REPLICA_PORT (default 8080),
// REPLICA_GRPC=true for the gRPC health service (the port then speaks HTTP/2 only, h2c).
// ContainerReplicaTemplate.ForTestReplicaAsync(session) needs no project: it runs this same code from the Mesh.Testing
// assembly. A project like this one is the starting point of a replica of your own (more endpoints, other settings):
// pass its path as ForTestReplicaAsync(session, projectPath).
return await InProcessReplica.RunAsProcessAsync();
