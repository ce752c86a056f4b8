namespace Mesh.Containers.Tests.Containers;

public sealed class EngineTimeTests
{
    [Fact]
    public void Nanosecond_times_of_the_engine_are_parsed_to_the_tick()
    {
        var time = DockerContainer.ParseEngineTime("2026-11-25T18:20:01.123456789Z");

        Assert.Equal(new DateTimeOffset(2026, 11, 25, 18, 20, 1, TimeSpan.Zero).AddTicks(1234567), time);
    }

    [Fact]
    public void Never_finished_is_parsed_as_the_zero_time() =>
        Assert.Equal(1, DockerContainer.ParseEngineTime("0001-01-01T00:00:00Z")!.Value.Year);
}
