namespace Mesh.Containers.Tests.Containers;

public sealed class EngineTimeTests
{
    [Fact]
    public void NanosecondTimesOfTheEngineAreParsed()
    {
        var time = DockerContainer.ParseEngineTime("2026-11-25T18:20:01.123456789Z");

        Assert.Equal(new DateTimeOffset(2026, 11, 25, 18, 20, 1, TimeSpan.Zero).AddTicks(1234567), time);
    }

    [Fact]
    public void NeverFinishedIsTheZeroTime() =>
        Assert.Equal(1, DockerContainer.ParseEngineTime("0001-01-01T00:00:00Z")!.Value.Year);
}
