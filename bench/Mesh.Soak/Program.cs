using System.Globalization;
using Mesh.Soak;

// Reliability figures (issue 20): a soak under continuous chaos and an overload run. Traffic goes to loopback only;
// every loop is bounded in time; child processes are stopped by their PID.
//
//   dotnet run -c Release --project bench/Mesh.Soak -- soak                      # 10 minutes at 2,000 requests/s
//   dotnet run -c Release --project bench/Mesh.Soak -- soak --duration 00:01:00 --rate 500 --interval 00:00:05
//   dotnet run -c Release --project bench/Mesh.Soak -- overload [--duration 00:00:10]
//   (serve <id> <version> <identity directory> <etcd url>: one replica process, started by the soak itself)
if (args.Length >= 5 && args[0] == "serve")
{
    return await ReplicaServer.ServeAsync(args[1], args[2], args[3], args[4]);
}

var mode = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "soak";
TimeSpan Option(string name, TimeSpan fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? TimeSpan.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
double Number(string name, double fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

var root = FindRoot();
var machine = Machine();
var command = string.Join(' ', args.Prepend("dotnet run -c Release --project bench/Mesh.Soak --"));
Console.WriteLine($"Mesh SDK {mode} on {machine}");
if (mode == "overload")
{
    var results = await Overload.RunAsync(Option("--duration", TimeSpan.FromSeconds(10)), Console.WriteLine);
    var markdown = $"Machine: {machine}. Command: `{command}`.\n\n" + Overload.Markdown(results);
    Console.WriteLine(markdown);
    WriteSection(Path.Combine(root, "bench", "README.md"), "overload", "Overload: twice the capacity, with and without retries", markdown);
    return 0;
}

var options = new SoakOptions(Option("--duration", TimeSpan.FromMinutes(10)), Number("--rate", 2000), Option("--interval", TimeSpan.FromSeconds(10)));
var result = await SoakRunner.RunAsync(options, Console.WriteLine);
Console.WriteLine(SoakReport.Markdown(result, machine, command));
var name = options.Duration >= TimeSpan.FromMinutes(5) ? "10-minutes" : "short";
var written = SoakReport.Write(result, name, machine, command, Path.Combine(root, "bench", "results"), Path.Combine(root, "bench", "README.md"));
Console.WriteLine("Written: " + string.Join(", ", written));
var violations = SoakReport.Violations(result);
foreach (var v in violations)
{
    Console.WriteLine("BOUND NOT HELD: " + v);
}

return result.Failed == 0 && violations.Count == 0 ? 0 : 1;

static void WriteSection(string readme, string key, string title, string markdown)
{
    var begin = $"<!-- soak:{key}:begin -->";
    var end = $"<!-- soak:{key}:end -->";
    var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
    var section = $"{begin}\n_Latest run: {stamp} UTC_\n\n{markdown}{end}";
    var text = File.Exists(readme) ? File.ReadAllText(readme) : "# Benchmarks\n\n";
    var at = text.IndexOf(begin, StringComparison.Ordinal);
    var to = text.IndexOf(end, StringComparison.Ordinal);
    text = at >= 0 && to > at ? text[..at] + section + text[(to + end.Length)..] : text.TrimEnd() + $"\n\n## {title}\n\n" + section + "\n";
    File.WriteAllText(readme, text);
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Mesh.Sdk.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}

static string Machine()
{
    var cpu = File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
        : null;
    var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
    return $"{Environment.ProcessorCount} vCPU ({cpu ?? "unknown CPU"}), .NET {Environment.Version}, load average at start {load}";
}
