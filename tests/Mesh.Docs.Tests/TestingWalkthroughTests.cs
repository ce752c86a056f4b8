using System.Reflection;
using Mesh.Containers;
using Mesh.Docs.Tests.Snippets;
using Mesh.Testing;
using Mesh.Tests.Shared;

namespace Mesh.Docs.Tests;

/// <summary>
/// docs/testing.md, run: its test classes, fixtures and the fragments that are whole test bodies are compiled into one
/// test assembly, as in the project of its section 1, and each of their tests runs here against real replicas (in
/// process; the container fixture of section 4 against the Docker engine). Fragments that assume names (their marker's
/// <c>given</c>) are only compiled, by <see cref="DocsCompileTests"/>.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class TestingWalkthroughTests
{
    private const string ContainerFixture = "testing-container-fixture";

    private static readonly Lazy<SnippetCompilation> s_inProcess = new(() => SnippetCompiler.Compile(
        MarkdownSnippets.All.Where(s => s.File == "docs/testing.md" && s.Project == SnippetProject.Test && s.Givens.Count == 0 &&
            s.Name != ContainerFixture && !s.With.Contains(ContainerFixture)).ToList()));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static TheoryData<string> Tests()
    {
        var compilation = s_inProcess.Value;
        if (!compilation.Success)
        {
            return new TheoryData<string>("(testing.md does not compile)");
        }

        return new TheoryData<string>(compilation.Load().GetTypes()
            .SelectMany(t => t.GetMethods().Where(m => m.GetCustomAttribute<FactAttribute>() is not null).Select(m => $"{t.FullName}.{m.Name}"))
            .Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Tests))]
    public async Task The_test_of_testing_md_passes(string test)
    {
        var compilation = s_inProcess.Value;
        Assert.True(compilation.Success, "testing.md does not compile:\n" + string.Join('\n', compilation.Errors));
        var split = test.LastIndexOf('.');
        var type = compilation.Load().GetType(test[..split], throwOnError: true)!;

        await RunAsync(type, type.GetMethod(test[(split + 1)..])!);
    }

    [Fact]
    public void The_walkthrough_runs_the_tests_of_sections_2_3_5_6_and_8()
    {
        var tests = Tests().Select(row => row.Data).ToList();

        Assert.Contains("Catalog.Tests.FirstFleetTests.Round_robin_reaches_every_replica_evenly", tests);
        Assert.Contains("Catalog.Tests.CatalogTests.Round_robin_through_the_fixture_client_reaches_every_replica_evenly", tests);
        Assert.Contains(tests, t => t.EndsWith(".A_replica_killed_under_load_costs_no_request_with_the_resilience_handler", StringComparison.Ordinal));
        Assert.Contains(tests, t => t.EndsWith(".A_rolling_update_from_v1_to_v2_under_load_fails_no_request_and_ends_all_on_v2", StringComparison.Ordinal));
        Assert.True(tests.Count >= 10, string.Join('\n', tests));
    }

    [Fact]
    public async Task The_container_fleet_fixture_of_section_4_starts_three_test_replicas_that_serve_and_take_chaos()
    {
        var compilation = SnippetCompiler.Compile(MarkdownSnippets.Named(ContainerFixture));
        Assert.True(compilation.Success, string.Join('\n', compilation.Errors));
        var fixtureType = compilation.Load().GetType("ContainerCatalogFleet", throwOnError: true)!;
        var fixture = (FleetFixture)Activator.CreateInstance(fixtureType)!;
        await fixture.InitializeAsync();
        try
        {
            Requires.Component(fixture.StartupFailure is not DockerEngineUnavailableException, "Docker engine",
                $"run ./test.sh as root, which installs docker.io and starts dockerd ({fixture.StartupFailure?.Message})");
            var fleet = fixture.Fleet;
            await using var mesh = fixture.CreateClient(s => s.LoadBalancer = LoadBalancerKind.RoundRobin);

            var report = await TrafficDriver.RunAsync(mesh.Client, new TrafficOptions { RequestCount = 60, Concurrency = 1 }, Token);
            await fleet[0].ConfigureAsync(new ReplicaChange { ErrorRate = 1 }, Token);        // the test replica's control API
            using var direct = new HttpClient();
            using var failing = await direct.GetAsync(new Uri(fleet[0].Address, "/items"), Token);
            await fleet[0].ConfigureAsync(new ReplicaChange { ErrorRate = 0 }, Token);

            report.AssertNoFailures();
            Assert.Equal(3, fleet.Replicas.Count);
            Assert.All(fleet.Replicas, r => Assert.Equal(20, report.CountOf(r.Id)));
            Assert.Equal(System.Net.HttpStatusCode.InternalServerError, failing.StatusCode);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    /// <summary>Runs one test as xunit would: class fixtures created and initialized, the class constructed with them, the test awaited, all disposed.</summary>
    private static async Task RunAsync(Type type, MethodInfo method)
    {
        var fixtures = new List<object>();
        try
        {
            var constructor = type.GetConstructors().Single();
            foreach (var parameter in constructor.GetParameters())
            {
                var fixture = Activator.CreateInstance(parameter.ParameterType)!;
                fixtures.Add(fixture);
                if (fixture is IAsyncLifetime lifetime)
                {
                    await lifetime.InitializeAsync();
                }
            }

            var instance = constructor.Invoke([.. fixtures]);
            try
            {
                switch (method.Invoke(instance, null))
                {
                    case Task task:
                        await task;
                        break;
                    case ValueTask valueTask:
                        await valueTask;
                        break;
                }
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            }
            finally
            {
                switch (instance)
                {
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync();
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                }
            }
        }
        finally
        {
            foreach (var fixture in fixtures)
            {
                if (fixture is IAsyncDisposable disposable)
                {
                    await disposable.DisposeAsync();
                }
            }
        }
    }
}
