using Mesh.Tests.Shared;

namespace Mesh.Discovery.Tests.TestSupport;

/// <summary>
/// dnsmasq on a free loopback port (UDP and TCP) serving only the records a test sets (from a configuration file in
/// its own temporary directory; TTL 1 s). Setting other records restarts it on the same port.
/// </summary>
public sealed class DnsmasqServer : IAsyncLifetime
{
    public const int Ttl = 1;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mesh-dnsmasq-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _executable;
    private ServerProcess? _process;
    private Exception? _startError;

    public int Port { get; } = FreePort.UdpAndTcp();

    public string Server => $"127.0.0.1:{Port}";

    public void EnsureAvailable()
    {
        Requires.Executable("dnsmasq", "dnsmasq-base");
        if (_startError is not null)
        {
            throw new InvalidOperationException("dnsmasq fixture failed to start: " + _startError.Message, _startError);
        }
    }

    public async ValueTask InitializeAsync()
    {
        _executable = Requires.FindExecutable("dnsmasq");
        Directory.CreateDirectory(_dir);
        if (_executable is null)
        {
            return;
        }

        try
        {
            await SetRecordsAsync([]);
        }
        catch (Exception ex)
        {
            _startError = ex;
        }
    }

    /// <summary>Serves exactly these records (dnsmasq configuration lines such as
    /// <c>srv-host=_http._tcp.a.mesh.test,r1.mesh.test,8081,0,10</c> and <c>host-record=r1.mesh.test,127.0.0.1</c>).</summary>
    public async Task SetRecordsAsync(IEnumerable<string> lines)
    {
        await _gate.WaitAsync();
        try
        {
            await StopCoreAsync();
            var conf = Path.Combine(_dir, "records.conf");
            await File.WriteAllLinesAsync(conf, lines);
            _process = await ServerProcess.StartAsync(_executable!,
            [
                "--no-daemon", "--keep-in-foreground", $"--port={Port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--no-poll", $"--local-ttl={Ttl}", $"--auth-ttl={Ttl}", "--log-facility=-",
                $"--pid-file={Path.Combine(_dir, "dnsmasq.pid")}", $"--conf-file={conf}",
            ], "started, version", TimeSpan.FromSeconds(15));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills dnsmasq (an outage); <see cref="SetRecordsAsync"/> starts it again.</summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await StopCoreAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StopCoreAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }

        _gate.Dispose();
    }
}
