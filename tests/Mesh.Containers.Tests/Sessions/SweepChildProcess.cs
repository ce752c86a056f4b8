using System.Runtime.CompilerServices;

namespace Mesh.Containers.Tests.Sessions;

/// <summary>
/// When the test executable is started with <see cref="ImageVariable"/> set, it does not run tests: it opens a session,
/// creates a labelled network and container, prints <c>READY {session id}</c> and waits to be killed — the "killed test
/// process" whose resources the next session must sweep.
/// </summary>
internal static class SweepChildProcess
{
    public const string ImageVariable = "MESH_CONTAINERS_SWEEP_CHILD_IMAGE";

#pragma warning disable CA2255 // The module initializer only acts in the child process started by DockerSessionTests.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RunIfChild()
    {
        if (Environment.GetEnvironmentVariable(ImageVariable) is not { Length: > 0 } image)
        {
            return;
        }

        try
        {
            var session = DockerSession.StartAsync(new DockerSessionOptions { SweepOnStart = false }).GetAwaiter().GetResult();
            var network = session.CreateNetworkAsync().GetAwaiter().GetResult();
            new DockerContainerBuilder(image).WithNetwork(network).StartAsync(session).GetAwaiter().GetResult();
            Console.Out.WriteLine("READY " + session.Id);
            Console.Out.Flush();
            Thread.Sleep(TimeSpan.FromMinutes(2));
            Environment.Exit(0);
        }
        catch (Exception e)
        {
            Console.Out.WriteLine("FAILED " + e);
            Console.Out.Flush();
            Environment.Exit(2);
        }
    }
}
