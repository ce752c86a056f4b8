using Mesh.Testing;
using Mesh.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using PuppeteerSharp;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>
/// The live page in a real browser: headless Chromium from Debian's <c>chromium</c> package (installed by test.sh; with
/// <c>CI=true</c> a missing browser fails the test), driven by PuppeteerSharp with the installed executable (no browser
/// download). A fleet of three in-process replicas serves a mesh client under steady traffic; one replica is killed and
/// brought back, and the page, refreshing by itself, must show it ejected and then returned. Screenshots (laptop and
/// phone sizes) are saved as test artifacts: attached to the test result and written to <c>MESH_TEST_ARTIFACTS</c> (default:
/// <c>TestResults/artifacts</c> next to the test assembly).
/// </summary>
public sealed class DiagnosticsPageBrowserTests
{
    private static readonly TimeSpan s_stepTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_page_shows_a_killed_replica_ejected_and_then_returned()
    {
        var chromium = Requires.Executable("chromium", "chromium");
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await ServiceFleet.StartAsync("catalog", 3, cancellationToken: ct);
        await using var app = await DiagnosticsApp.StartAsync(builder =>
        {
            builder.Services.AddMeshFleet(fleet, catalog =>
            {
                catalog.OutlierDetection.BaseEjectionTime = TimeSpan.FromSeconds(2);
                catalog.SlowStart.Window = TimeSpan.FromSeconds(3);
            });
            builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        });
        await using var traffic = TrafficDriver.Start(app.MeshClient(), new TrafficOptions { Concurrency = 2, RequestsPerSecond = 100, Duration = TimeSpan.FromMinutes(5) },
            cancellationToken: ct);

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Timeout = (int)s_stepTimeout.TotalMilliseconds,
            // As root in a container the sandbox cannot start; /dev/shm may be small there.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
        });
        await using var page = await browser.NewPageAsync();
        var pageErrors = new List<string>();
        page.PageError += (_, e) => pageErrors.Add(e.Message);
        page.Console += (_, e) =>
        {
            if (e.Message.Type == ConsoleType.Error)
            {
                pageErrors.Add(e.Message.Text);
            }
        };
        await page.SetViewportAsync(new ViewPortOptions { Width = 1440, Height = 900 });
        await page.GoToAsync(new Uri(app.Address, "/mesh/ui").ToString(), new NavigationOptions { Timeout = (int)s_stepTimeout.TotalMilliseconds });

        var victim = new MeshEndpoint(fleet[1].Address).Key;
        await WaitAsync(page, "three endpoints taking traffic", """
            () => document.querySelectorAll('tr[data-endpoint]').length === 3
               && [...document.querySelectorAll('tr[data-endpoint] .share .text')].every(t => t.textContent !== '0%')
            """);

        await fleet[1].KillAsync(ct);
        await WaitAsync(page, $"{victim} shown ejected", """
            endpoint => {
              const row = document.querySelector(`tr[data-endpoint="${endpoint}"]`);
              const event = document.querySelector(`#timeline li[data-kind="Ejected"][data-endpoint="${endpoint}"]`);
              return row !== null && row.dataset.state === 'Ejected' && row.querySelector('.state').innerText.includes('Ejected')
                && event !== null && event.innerText.includes('Ejected') && document.title.includes('1 down');
            }
            """, victim);
        await SaveScreenshotAsync(page, "mesh-diagnostics-ejected.png");

        await fleet[1].RestartAsync(ct);
        await WaitAsync(page, $"{victim} shown returned", """
            endpoint => {
              const row = document.querySelector(`tr[data-endpoint="${endpoint}"]`);
              const event = document.querySelector(`#timeline li[data-kind="Returned"][data-endpoint="${endpoint}"]`);
              return row !== null && (row.dataset.state === 'Healthy' || row.dataset.state === 'SlowStart')
                && event !== null && event.innerText.includes('Returned');
            }
            """, victim);
        await SaveScreenshotAsync(page, "mesh-diagnostics-returned.png");

        // Readable on a phone: the same page at 390 px wide has no horizontal scrolling and shows each endpoint's state.
        await page.SetViewportAsync(new ViewPortOptions { Width = 390, Height = 844, DeviceScaleFactor = 2, IsMobile = true, HasTouch = true });
        await WaitAsync(page, "the phone layout without horizontal scrolling", """
            () => document.documentElement.scrollWidth <= window.innerWidth
               && [...document.querySelectorAll('.table-wrap')].every(w => w.scrollWidth <= w.clientWidth + 1)
               && [...document.querySelectorAll('tr[data-endpoint] td.state')].every(td => td.getBoundingClientRect().width > 0)
            """);
        await SaveScreenshotAsync(page, "mesh-diagnostics-phone.png", fullPage: true);

        Assert.Empty(pageErrors);
        var report = await traffic.StopAsync();
        Assert.True(report.Succeeded > 0, report.ToString());
    }

    private static async Task WaitAsync(IPage page, string what, string predicate, params object[] args)
    {
        try
        {
            await page.WaitForFunctionAsync(predicate, new WaitForFunctionOptions { Timeout = (int)s_stepTimeout.TotalMilliseconds, PollingInterval = 100 }, args);
        }
        catch (WaitTaskTimeoutException ex)
        {
            var shown = await page.EvaluateExpressionAsync<string>("document.body.innerText");
            await SaveScreenshotAsync(page, "mesh-diagnostics-timeout.png");
            throw new TimeoutException($"The page did not show {what} within {s_stepTimeout.TotalSeconds} s. It showed:\n{shown}", ex);
        }
    }

    private static async Task SaveScreenshotAsync(IPage page, string name, bool fullPage = false)
    {
        var png = await page.ScreenshotDataAsync(new ScreenshotOptions { Type = ScreenshotType.Png, FullPage = fullPage });
        var directory = Environment.GetEnvironmentVariable("MESH_TEST_ARTIFACTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "TestResults", "artifacts");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        await File.WriteAllBytesAsync(path, png);
        TestContext.Current.AddAttachment(name, png, "image/png");
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
    }
}
