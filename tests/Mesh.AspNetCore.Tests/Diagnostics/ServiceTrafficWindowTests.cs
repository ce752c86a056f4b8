using Mesh.Diagnostics.Internal;

namespace Mesh.AspNetCore.Tests.Diagnostics;

/// <summary>The per-second window behind the page's rate, errors and percentiles (pure logic, exact).</summary>
public sealed class ServiceTrafficWindowTests
{
    [Theory]
    [InlineData(0.000_050)]
    [InlineData(0.000_8)]
    [InlineData(0.003)]
    [InlineData(0.020)]
    [InlineData(0.25)]
    [InlineData(4.2)]
    public void A_percentile_is_within_six_percent_of_the_recorded_duration(double seconds)
    {
        var window = new ServiceTrafficWindow(firstSecond: 100);
        for (var i = 0; i < 10; i++)
        {
            window.Record(100, seconds, error: false);
        }

        var summary = window.Summarize(100);

        Assert.InRange(summary.P50!.Value, seconds / 1.06, seconds * 1.06);
        Assert.InRange(summary.P99!.Value, seconds / 1.06, seconds * 1.06);
    }

    [Fact]
    public void The_median_and_the_99th_percentile_come_from_the_ranks()
    {
        var window = new ServiceTrafficWindow(firstSecond: 0);
        for (var i = 0; i < 98; i++)
        {
            window.Record(5, 0.001, error: false);
        }

        window.Record(5, 0.5, error: true);
        window.Record(5, 0.5, error: true);

        var summary = window.Summarize(5);

        Assert.Equal(100, summary.Requests);
        Assert.Equal(2, summary.Errors);
        Assert.InRange(summary.P50!.Value, 0.001 / 1.06, 0.001 * 1.06);
        Assert.InRange(summary.P99!.Value, 0.5 / 1.06, 0.5 * 1.06); // rank 99 of 100 is one of the two slow ones
        Assert.Equal(6, summary.Seconds);
        Assert.Equal(100, summary.PerSecond[^1]);
        Assert.Equal(2, summary.ErrorsPerSecond[^1]);
    }

    [Fact]
    public void Seconds_older_than_the_window_are_forgotten_and_their_slots_reused()
    {
        var window = new ServiceTrafficWindow(firstSecond: 0);
        window.Record(10, 0.01, error: true);
        window.Record(69, 0.01, error: false);

        Assert.Equal(2, window.Summarize(69).Requests); // seconds 10..69
        Assert.Equal(1, window.Summarize(70).Requests); // second 10 left the window

        window.Record(70, 0.02, error: false);          // the slot of second 10, cleared first
        var summary = window.Summarize(70);

        Assert.Equal(2, summary.Requests);
        Assert.Equal(0, summary.Errors);
        Assert.Equal(60, summary.Seconds);
    }

    [Fact]
    public void A_late_recording_for_a_second_whose_slot_moved_on_is_dropped()
    {
        var window = new ServiceTrafficWindow(firstSecond: 0);
        window.Record(75, 0.01, error: false);

        window.Record(15, 0.01, error: false);          // same slot, a minute earlier

        Assert.Equal(1, window.Summarize(75).Requests);
    }

    [Fact]
    public void Without_attempts_there_is_no_percentile()
    {
        var summary = new ServiceTrafficWindow(firstSecond: 0).Summarize(3);

        Assert.Null(summary.P50);
        Assert.Null(summary.P99);
        Assert.Equal(0, summary.Requests);
        Assert.Equal(4, summary.Seconds);
    }

    [Fact]
    public void Recording_allocates_nothing()
    {
        var window = new ServiceTrafficWindow(firstSecond: 0);
        window.Record(1, 0.01, error: false); // the slot's first use of second 1

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            window.Record(1 + (i / 1000), 0.001 * (i % 50), error: i % 7 == 0);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Durations_outside_the_buckets_land_in_the_first_and_the_last()
    {
        Assert.Equal(0, ServiceTrafficWindow.Bucket(0));
        Assert.Equal(0, ServiceTrafficWindow.Bucket(-1));
        Assert.Equal(0, ServiceTrafficWindow.Bucket(double.NaN));
        Assert.Equal(ServiceTrafficWindow.Bucket(1e9), ServiceTrafficWindow.Bucket(double.PositiveInfinity));
        Assert.True(ServiceTrafficWindow.Bucket(99) < ServiceTrafficWindow.Bucket(1e9));
    }
}
