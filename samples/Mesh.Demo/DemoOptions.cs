using System.Globalization;

namespace Mesh.Demo;

/// <summary>Command-line options of the demo.</summary>
internal sealed record DemoOptions(TimeSpan Duration, LoadBalancerKind Balancer, bool Interactive, bool Help, bool Docker, bool Ui = false, int UiPort = 0)
{
    public const string Usage = """
        Mesh SDK demo: three replicas behind AddMeshClient over mutual TLS (SPIFFE IDs from a development CA),
        one slowed, one killed and brought back, with zero failed requests.

        Usage: dotnet run --project samples/Mesh.Demo -- [options]
          --duration <seconds>   how long the scenario runs (default 40, minimum 10)
          --balancer <name>      RoundRobin, WeightedRoundRobin, Random, LeastRequest, PeakEwma (default), ConsistentHash
          --docker               run the replicas as containers (test replica image built FROM scratch, no registry; plain HTTP)
          --ui                   also serve the mesh's live page (MapMeshDiagnostics) on 127.0.0.1 and print its URL;
                                 in a terminal the page stays up after the run until Enter is pressed
          --ui-port <port>       the page's port (default: any free port; implies --ui)
          --no-live              print only the summary (the default when output is not a terminal)
          --help                 this text
        """;

    public static DemoOptions Parse(string[] args)
    {
        var duration = TimeSpan.FromSeconds(40);
        var balancer = LoadBalancerKind.PeakEwma;
        var interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null;
        var help = false;
        var docker = false;
        var ui = false;
        var uiPort = 0;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            switch (args[i])
            {
                case "--duration":
                    var value = Next();
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 10)
                    {
                        throw new ArgumentException($"--duration: '{value}' is not a number of seconds of at least 10.");
                    }

                    duration = TimeSpan.FromSeconds(seconds);
                    break;
                case "--balancer":
                    var name = Next();
                    if (!Enum.TryParse(name, ignoreCase: true, out balancer) || !Enum.IsDefined(balancer) || char.IsDigit(name[0]))
                    {
                        throw new ArgumentException($"--balancer: '{name}' is not a balancer; allowed: {string.Join(", ", Enum.GetNames<LoadBalancerKind>())}.");
                    }

                    break;
                case "--docker":
                    docker = true;
                    break;
                case "--ui":
                    ui = true;
                    break;
                case "--ui-port":
                    var port = Next();
                    if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out uiPort) || uiPort is < 1 or > 65535)
                    {
                        throw new ArgumentException($"--ui-port: '{port}' is not a port number (1 to 65535).");
                    }

                    ui = true;
                    break;
                case "--no-live":
                    interactive = false;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.\n{Usage}");
            }
        }

        return new DemoOptions(duration, balancer, interactive, help, docker, ui, uiPort);
    }
}
