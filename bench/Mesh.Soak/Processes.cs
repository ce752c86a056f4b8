using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Mesh.Soak;

/// <summary>A child process with its output captured, started until it prints a ready line; stopped by its PID
/// (SIGKILL), paused and resumed with SIGSTOP/SIGCONT, or asked to stop by closing its standard input.</summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    private const int SigStop = 19;
    private const int SigCont = 18;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _readyPrefix;

    private ChildProcess(ProcessStartInfo start, string readyPrefix)
    {
        _readyPrefix = readyPrefix;
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{start.FileName} exited before it was ready:\n{Output}"));
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', _output.TakeLast(40));

    /// <summary>Starts <paramref name="executable"/> and waits (bounded) for a line starting with <paramref name="readyPrefix"/>; returns it.</summary>
    public static async Task<(ChildProcess Process, string ReadyLine)> StartAsync(string executable, IEnumerable<string> arguments, string readyPrefix, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var child = new ChildProcess(start, readyPrefix);
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        try
        {
            return (child, await child._ready.Task.WaitAsync(timeout));
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    /// <summary>This program itself, started with <paramref name="arguments"/> (for the replica processes).</summary>
    public static Task<(ChildProcess Process, string ReadyLine)> StartSelfAsync(IEnumerable<string> arguments, string readyPrefix, TimeSpan timeout)
    {
        var self = Environment.ProcessPath!;
        var isDotnet = Path.GetFileNameWithoutExtension(self) == "dotnet";
        var assembly = typeof(ChildProcess).Assembly.Location;
        return isDotnet || !string.Equals(Path.GetFileNameWithoutExtension(self), "Mesh.Soak", StringComparison.Ordinal)
            ? StartAsync(isDotnet ? self : "dotnet", arguments.Prepend(assembly), readyPrefix, timeout)
            : StartAsync(self, arguments, readyPrefix, timeout);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 200)
        {
            _output.TryDequeue(out _);
        }

        if (line.StartsWith(_readyPrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }
    }

    /// <summary>Sends one line to the child's standard input.</summary>
    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>SIGKILL: the process ends at once; its connections reset.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
    }

    /// <summary>SIGSTOP (<paramref name="paused"/>) or SIGCONT: a frozen process keeps its sockets open and answers nothing.</summary>
    public void Pause(bool paused)
    {
        if (!_process.HasExited && OperatingSystem.IsLinux())
        {
            _ = Kill(_process.Id, paused ? SigStop : SigCont);
        }
    }

    /// <summary>Closes standard input (a graceful stop for the replicas) and waits up to <paramref name="timeout"/>.</summary>
    public async Task StopGracefullyAsync(TimeSpan timeout)
    {
        try
        {
            _process.StandardInput.Close();
            using var cancel = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
        {
            Kill();
        }
    }

    public ValueTask DisposeAsync()
    {
        Pause(false);
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>A single-member etcd on free loopback ports with its own data directory; killed and restarted on the same
/// ports and data to show a registry outage.</summary>
internal sealed class EtcdProcess : IAsyncDisposable
{
    private readonly string _executable;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("mesh-soak-etcd-").FullName;
    private readonly int _clientPort = FreePort();
    private readonly int _peerPort = FreePort();
    private ChildProcess? _process;

    private EtcdProcess(string executable) => _executable = executable;

    public string Url => $"http://127.0.0.1:{_clientPort}";

    public bool IsRunning => _process is { HasExited: false };

    public static string? FindExecutable() =>
        new[] { "/usr/bin/etcd", "/usr/local/bin/etcd", "/usr/sbin/etcd" }.FirstOrDefault(File.Exists)
        ?? (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "etcd")).FirstOrDefault(File.Exists);

    public static async Task<EtcdProcess> StartAsync()
    {
        var executable = FindExecutable() ?? throw new InvalidOperationException("etcd is not installed (apt-get install -y etcd-server); ./test.sh installs it.");
        var etcd = new EtcdProcess(executable);
        await etcd.StartAgainAsync();
        return etcd;
    }

    public async Task StartAgainAsync()
    {
        (_process, _) = await ChildProcess.StartAsync(_executable,
        [
            "--name", "mesh-soak",
            "--data-dir", _dataDir,
            "--listen-client-urls", Url,
            "--advertise-client-urls", Url,
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-cluster", $"mesh-soak=http://127.0.0.1:{_peerPort}",
            "--log-level", "warn",
            "--logger", "zap",
        ], "", TimeSpan.FromSeconds(30));
        await WaitUntilServingAsync();
    }

    private async Task WaitUntilServingAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = await http.GetAsync($"{Url}/health");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"etcd did not serve within 30 s:\n{_process?.Output}");
    }

    /// <summary>Kills the member (an outage); <see cref="StartAgainAsync"/> brings it back with its data.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
