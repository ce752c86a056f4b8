using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Mesh.Testing.Internal;

namespace Mesh.Testing.Tests.Replicas;

/// <summary>
/// The test replica image is made of what the test process runs (no project to find, no SDK): these tests run the
/// application folder it is made of on this machine's <c>dotnet</c>, the way the image's entry point does.
/// </summary>
public sealed class TestReplicaApplicationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mesh-replica-app-tests-").FullName;

    [Fact]
    public void The_application_holds_mesh_testing_and_its_dependencies_but_no_framework_assembly()
    {
        TestReplicaApplication.Write(_directory);
        var files = Directory.GetFiles(_directory).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);

        Assert.Contains("MeshTestReplica.dll", files);
        Assert.Contains("MeshTestReplica.runtimeconfig.json", files);
        Assert.Contains("Mesh.Testing.dll", files);
        Assert.Contains("Mesh.Core.dll", files);
        Assert.Contains("HdrHistogram.dll", files);
        Assert.DoesNotContain("System.Private.CoreLib.dll", files);
        Assert.DoesNotContain("Microsoft.AspNetCore.Server.Kestrel.Core.dll", files);
        Assert.DoesNotContain(files, f => f!.Contains("Tests", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_launcher_runs_the_test_replica_on_this_machines_dotnet_and_stops_on_sigterm()
    {
        var ct = TestContext.Current.CancellationToken;
        var launcher = TestReplicaApplication.Write(_directory);
        var port = FreePort();
        var start = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(Environment.ProcessPath!)!, "dotnet") is var local && File.Exists(local) ? local : "dotnet", [launcher])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        start.Environment[ContainerReplicaTemplate.IdVariable] = "catalog-7";
        start.Environment[ContainerReplicaTemplate.VersionVariable] = "v3";
        start.Environment[ContainerReplicaTemplate.PortVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            HttpResponseMessage? response = null;
            for (var attempt = 0; attempt < 300 && response is null && !process.HasExited; attempt++)
            {
                try
                {
                    response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/items"), ct);
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, ct);
                }
            }

            Assert.True(response is not null, $"The replica did not answer within 30 s (exited: {process.HasExited}). Output: {(process.HasExited ? await output + await errors : "")}");
            Assert.Equal("catalog-7", await response.Content.ReadAsStringAsync(ct));
            Assert.Equal("v3", response.Headers.GetValues(InProcessReplica.VersionHeader).Single());
        }
        finally
        {
            if (!process.HasExited)
            {
                Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            }
        }

        using var exit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        exit.CancelAfter(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(exit.Token);
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("replica catalog-7 (version v3) listening on port", await output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
