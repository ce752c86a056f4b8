using Mesh.Tests.Shared;

namespace Mesh.Discovery.Tests.TestSupport;

/// <summary>
/// A single-member etcd on free loopback ports with its own temporary data directory, started once per test class.
/// It can be stopped (killed) and started again on the same ports and data, to show outages. A fixture that could not
/// start rethrows the real cause (with etcd's output) in each test; without etcd the tests skip (or fail with CI=true).
/// </summary>
public sealed class EtcdServer : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "mesh-etcd-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly int _clientPort = FreePort.Tcp();
    private readonly int _peerPort = FreePort.Tcp();
    private string? _executable;
    private ServerProcess? _process;
    private Exception? _startError;

    public string Url => $"http://127.0.0.1:{_clientPort}";

    public bool IsRunning => _process is not null;

    /// <summary>Skips or fails the test when etcd is not installed, and rethrows a start failure.</summary>
    public void EnsureAvailable()
    {
        Requires.Executable("etcd", "etcd-server");
        if (_startError is not null)
        {
            throw new InvalidOperationException("etcd fixture failed to start: " + _startError.Message, _startError);
        }
    }

    public async ValueTask InitializeAsync()
    {
        _executable = Requires.FindExecutable("etcd");
        if (_executable is null)
        {
            return;
        }

        try
        {
            await StartAsync();
        }
        catch (Exception ex)
        {
            _startError = ex;
        }
    }

    public async Task StartAsync()
    {
        _process = await ServerProcess.StartAsync(_executable!,
        [
            "--name", "mesh-test",
            "--data-dir", _dataDir,
            "--listen-client-urls", Url,
            "--advertise-client-urls", Url,
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-cluster", $"mesh-test=http://127.0.0.1:{_peerPort}",
            "--log-level", "info",
        ], "ready to serve client requests", TimeSpan.FromSeconds(30));
    }

    /// <summary>Kills etcd (an outage); <see cref="StartAsync"/> brings it back with the same data.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    public string Output => _process?.Output ?? "";

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
