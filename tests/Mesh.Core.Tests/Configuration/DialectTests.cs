using System.Reflection;
using Mesh.Configuration.Internal;
using Mesh.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Tests.Configuration;

/// <summary>
/// The one configuration dialect (issue #14): time spans never as bare numbers, enums only by name, every bad key named at
/// once, and the limits the options declare as attributes are the limits validation enforces.
/// </summary>
public sealed class DialectTests
{
    private static async Task<IReadOnlyList<string>> StartFailuresAsync(string json)
    {
        using var app = new UserApp().WithJson(json);
        using var host = app.BuildWithMeshClient();
        return [.. (await UserApp.StartFailureAsync(host)).Failures];
    }

    private static string Service(string settings) =>
        $$"""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], {{settings}} } } } }""";

    [Theory]
    [InlineData("""{ "Mesh": { "ConnectTimeout": "5", "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ] } } } }""", "Mesh:ConnectTimeout")]
    [InlineData("""{ "Mesh": { "Identity": { "PollInterval": "5" }, "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ] } } } }""", "Mesh:Identity:PollInterval")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "AttemptTimeout": "2" } } } }""", "Mesh:Services:catalog:AttemptTimeout")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "HealthCheck": { "Timeout": "1" } } } } }""", "Mesh:Services:catalog:HealthCheck:Timeout")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "OutlierDetection": { "MaxEjectionTime": "300" } } } } }""", "Mesh:Services:catalog:OutlierDetection:MaxEjectionTime")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "OutlierDetection": { "FailureRateWindow": "10" } } } } }""", "Mesh:Services:catalog:OutlierDetection:FailureRateWindow")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "SlowStart": { "Window": "10" } } } } }""", "Mesh:Services:catalog:SlowStart:Window")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "RetryBudget": { "Window": "10" } } } } }""", "Mesh:Services:catalog:RetryBudget:Window")]
    [InlineData("""{ "Mesh": { "Services": { "catalog": { "Endpoints": [ "http://127.0.0.1:5001" ], "PeakEwma": { "DecayTime": "10", "DefaultRtt": "0.03" } } } } }""", "Mesh:Services:catalog:PeakEwma:DecayTime")]
    public async Task A_bare_number_is_never_a_time_span(string json, string key)
    {
        var failures = await StartFailuresAsync(json);

        Assert.Contains(failures, f => f.StartsWith($"{key}: '", StringComparison.Ordinal) && f.Contains("' is not a time span; use hh:mm:ss[.fff]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\"LoadBalancer\": \"1\"", "Mesh:Services:catalog:LoadBalancer: '1' is not valid; allowed values: PeakEwma, RoundRobin")]
    [InlineData("\"LoadBalancer\": \"-1\"", "Mesh:Services:catalog:LoadBalancer: '-1' is not valid")]
    [InlineData("\"LoadBalancer\": \"RoundRobin, Random\"", "Mesh:Services:catalog:LoadBalancer: 'RoundRobin, Random' is not valid")]
    [InlineData("\"HealthCheck\": { \"Protocol\": \"1\" }", "Mesh:Services:catalog:HealthCheck:Protocol: '1' is not valid; allowed values: Http, Grpc.")]
    [InlineData("\"OutlierDetection\": { \"FailureKinds\": \"4\" }", "Mesh:Services:catalog:OutlierDetection:FailureKinds: '4' is not valid; allowed values (comma-separated)")]
    [InlineData("\"OutlierDetection\": { \"FailureKinds\": [ \"ServerError\", \"2\" ] }", "Mesh:Services:catalog:OutlierDetection:FailureKinds: '2' is not valid")]
    public async Task An_enum_is_read_by_name_only(string settings, string expected)
    {
        var failures = await StartFailuresAsync(Service(settings));

        Assert.Contains(failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_bad_key_is_named_at_once()
    {
        var failures = await StartFailuresAsync("""
            { "Mesh": {
                "MaxConcurrentHealthChecks": "many", "PassThroughUnknownHosts": "yes",
                "Services": { "catalog": {
                  "Endpoints": [ { "Address": "http://127.0.0.1:5001", "Weight": "heavy" } ],
                  "PanicThreshold": 101,
                  "HealthCheck": { "Interval": "00:00:00.010", "UnhealthyThreshold": 0 },
                  "OutlierDetection": { "BaseEjectionTime": "00:10:00", "MaxEjectionTime": "00:01:00" },
                  "SlowStart": { "Aggression": "fast" },
                  "RetryBudget": { "RetryRatio": 11 },
                  "Hedging": { "Enabled": "on" },
                  "TrafficSplit": { "Weights": { "v1": -1 } } } } } }
            """);

        string[] expected =
        [
            "Mesh:MaxConcurrentHealthChecks: 'many' is not an integer.",
            "Mesh:PassThroughUnknownHosts: 'yes' is not valid; allowed values: true, false.",
            "Mesh:Services:catalog:Endpoints:0:Weight: 'heavy' is not an integer.",
            "Mesh:Services:catalog:PanicThreshold: 101 is out of range; allowed: 0 (never) to 100 (percent of endpoints healthy).",
            "Mesh:Services:catalog:HealthCheck:Interval: 00:00:00.0100000 is out of range; allowed: 00:00:00.100 to 01:00:00.",
            "Mesh:Services:catalog:HealthCheck:UnhealthyThreshold: 0 is out of range; allowed: 1 to 100.",
            "Mesh:Services:catalog:OutlierDetection:MaxEjectionTime: 00:01:00 must be at least BaseEjectionTime (00:10:00).",
            "Mesh:Services:catalog:SlowStart:Aggression: 'fast' is not a number.",
            "Mesh:Services:catalog:RetryBudget:RetryRatio: 11 is out of range; allowed: 0 to 10, or a negative value (-1) to turn the budget off.",
            "Mesh:Services:catalog:Hedging:Enabled: 'on' is not valid; allowed values: true, false.",
            "Mesh:Services:catalog:TrafficSplit:MetadataKey: required when TrafficSplit:Weights is set",
            "Mesh:Services:catalog:TrafficSplit:Weights:v1: -1 is out of range; allowed: 0 to 1000000.",
        ];
        foreach (var message in expected)
        {
            Assert.Contains(failures, f => f.StartsWith(message, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Flags_may_be_an_array_or_one_value_with_any_list_separator()
    {
        foreach (var value in new[] { "\"ConnectionFailure; ServerError\"", "\"ConnectionFailure|ServerError\"", "[ \"ConnectionFailure\", \"ServerError\" ]" })
        {
            using var app = new UserApp().WithJson(Service($$"""
                "OutlierDetection": { "FailureKinds": {{value}} }
                """));
            using var host = app.BuildWithMeshClient();
            await host.StartAsync(UserApp.Token);

            var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<MeshOptions>>().CurrentValue;
            Assert.Equal(OutlierFailureKinds.ConnectionFailure | OutlierFailureKinds.ServerError, options.Services["catalog"].OutlierDetection.FailureKinds);
            await host.StopAsync(UserApp.Token);
        }
    }

    [Fact]
    public void Every_property_the_binder_binds_is_checked_strictly_first()
    {
        foreach (var (type, keys) in MeshConfigurationReader.BoundKeys)
        {
            var readByHand = type == typeof(OutlierDetectionOptions) ? new[] { nameof(OutlierDetectionOptions.FailureKinds), nameof(OutlierDetectionOptions.GrpcStatusCodes) } : [];
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true))
            {
                if (readByHand.Contains(property.Name))
                {
                    continue;
                }

                var key = Assert.Single(keys, k => k.Name == property.Name);
                Assert.Equal(KindOf(property.PropertyType), key.Kind);
            }
        }
    }

    /// <summary>Every limit an option declares is enforced, naming the key: the attribute is what validation reads.</summary>
    [Fact]
    public void Every_declared_limit_is_enforced_with_the_key_of_the_option()
    {
        var checkedLimits = 0;
        foreach (var (type, path) in OptionObjects())
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetCustomAttribute<AllowedRangeAttribute>() is not { } range)
                {
                    continue;
                }

                var options = NewValidOptions();
                var target = Target(options, type);
                property.SetValue(target, OutOfRange(property.PropertyType, range));
                var errors = MeshOptionsValidator.Validate(options, [], hasIdentitySource: true);

                Assert.Contains(errors, e => e.StartsWith($"{path}:{property.Name}: ", StringComparison.Ordinal) && e.Contains(" is out of range; allowed: ", StringComparison.Ordinal));
                checkedLimits++;
            }
        }

        Assert.True(checkedLimits >= 24, $"only {checkedLimits} limits found");
    }

    private static MeshOptions NewValidOptions()
    {
        var options = new MeshOptions();
        var service = new MeshServiceOptions();
        service.Endpoints.Add(new MeshEndpointOptions { Address = "http://127.0.0.1:5001" });
        options.Services["catalog"] = service;
        options.Identity.CertificatePath = "svid.pem";
        options.Identity.KeyPath = "svid.key";
        options.Identity.TrustBundlePath = "bundle.pem";
        Assert.Empty(MeshOptionsValidator.Validate(options, [], hasIdentitySource: true));
        return options;
    }

    private static IEnumerable<(Type Type, string Path)> OptionObjects() =>
    [
        (typeof(MeshOptions), "Mesh"),
        (typeof(MeshIdentityOptions), "Mesh:Identity"),
        (typeof(MeshServiceOptions), "Mesh:Services:catalog"),
        (typeof(MeshEndpointOptions), "Mesh:Services:catalog:Endpoints:0"),
        (typeof(HealthCheckOptions), "Mesh:Services:catalog:HealthCheck"),
        (typeof(OutlierDetectionOptions), "Mesh:Services:catalog:OutlierDetection"),
        (typeof(SlowStartOptions), "Mesh:Services:catalog:SlowStart"),
        (typeof(RetryBudgetOptions), "Mesh:Services:catalog:RetryBudget"),
        (typeof(PeakEwmaOptions), "Mesh:Services:catalog:PeakEwma"),
    ];

    private static object Target(MeshOptions options, Type type)
    {
        var service = options.Services["catalog"];
        return type == typeof(MeshOptions) ? options
            : type == typeof(MeshIdentityOptions) ? options.Identity
            : type == typeof(MeshServiceOptions) ? service
            : type == typeof(MeshEndpointOptions) ? service.Endpoints[0]
            : type == typeof(HealthCheckOptions) ? service.HealthCheck
            : type == typeof(OutlierDetectionOptions) ? service.OutlierDetection
            : type == typeof(SlowStartOptions) ? service.SlowStart
            : type == typeof(RetryBudgetOptions) ? service.RetryBudget
            : type == typeof(PeakEwmaOptions) ? service.PeakEwma
            : throw new ArgumentOutOfRangeException(nameof(type));
    }

    /// <summary>A value just below the declared minimum (or above the maximum when the minimum is the type's least value).</summary>
    private static object OutOfRange(Type type, AllowedRangeAttribute range)
    {
        var limits = range.Describe();
        type = Nullable.GetUnderlyingType(type) ?? type;
        return (type.Name, range.Minimum, range.Maximum) switch
        {
            (nameof(Int32), int min, _) when min > int.MinValue => min - 1,
            (nameof(Int32), _, int max) => max + 1,
            (nameof(Double), double min, double max) => min > double.MinValue ? min - (range.MinimumIsExclusive ? 0 : 1) : max + 1,
            (nameof(TimeSpan), TimeSpan min, _) => min - (range.MinimumIsExclusive ? TimeSpan.Zero : TimeSpan.FromTicks(1)),
            _ => throw new InvalidOperationException($"no out-of-range value for {type} ({limits})"),
        };
    }

    private static ConfigurationValueKind KindOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? ConfigurationValueKind.String
            : type == typeof(int) ? ConfigurationValueKind.Int32
            : type == typeof(double) ? ConfigurationValueKind.Double
            : type == typeof(bool) ? ConfigurationValueKind.Boolean
            : type == typeof(TimeSpan) ? ConfigurationValueKind.TimeSpan
            : type.IsEnum ? ConfigurationValueKind.Enum
            : ConfigurationValueKind.Map;
    }
}
