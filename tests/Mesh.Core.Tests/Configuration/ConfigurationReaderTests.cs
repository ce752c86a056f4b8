using Mesh.Configuration.Internal;
using Microsoft.Extensions.Configuration;

namespace Mesh.Tests.Configuration;

/// <summary>Unit tests of the shared strict reader (src/Shared/Configuration): lists across providers, values, errors.</summary>
public sealed class ConfigurationReaderTests
{
    private static IConfigurationRoot Providers(params Dictionary<string, string?>[] layers)
    {
        var builder = new ConfigurationBuilder();
        foreach (var layer in layers)
        {
            builder.AddInMemoryCollection(layer);
        }

        return builder.Build();
    }

    private static string?[] Items(IConfigurationRoot root, bool knowRoot = true) =>
        [.. new ConfigurationReader([], knowRoot ? root : null).List(root.GetSection("L")).Select(i => i.Value)];

    [Fact]
    public void A_plain_value_from_a_later_provider_replaces_the_items_of_earlier_ones()
    {
        var root = Providers(new() { ["L:0"] = "a", ["L:1"] = "b", ["L:2"] = "c" }, new() { ["L"] = "x; y" });

        Assert.Equal(["x", "y"], Items(root));
    }

    [Fact]
    public void Items_from_a_later_provider_replace_an_earlier_plain_value_and_the_items_before_it()
    {
        var root = Providers(new() { ["L:0"] = "a", ["L:1"] = "b" }, new() { ["L"] = "x" }, new() { ["L:1"] = "z" });

        Assert.Equal(["z"], Items(root));
    }

    [Fact]
    public void Items_of_providers_without_a_plain_value_merge_by_index_as_in_dotnet()
    {
        var root = Providers(new() { ["L:0"] = "a", ["L:1"] = "b" }, new() { ["L:1"] = "z" });

        Assert.Equal(["a", "z"], Items(root));
    }

    [Fact]
    public void Without_the_root_a_plain_value_wins()
    {
        var root = Providers(new() { ["L"] = "x" }, new() { ["L:0"] = "a" });

        Assert.Equal(["x"], Items(root, knowRoot: false));
        Assert.Equal(["a"], Items(root));
    }

    [Theory]
    [InlineData("a,b", new[] { "a", "b" })]
    [InlineData(" a ; b ;", new[] { "a", "b" })]
    [InlineData("a", new[] { "a" })]
    [InlineData("  ", new string[0])]
    public void One_value_splits_at_commas_and_semicolons(string value, string[] expected)
    {
        Assert.Equal(expected, Items(Providers(new Dictionary<string, string?> { ["L"] = value })));
    }

    [Fact]
    public void Parts_of_one_value_are_named_by_the_list_key_and_position()
    {
        var root = Providers(new Dictionary<string, string?> { ["Mesh:L"] = "a,b" });

        var items = new ConfigurationReader([], root).List(root.GetSection("Mesh:L"));

        Assert.Equal(["Mesh:L (item 1 of 2)", "Mesh:L (item 2 of 2)"], items.Select(i => i.Path));
    }

    [Fact]
    public void A_list_of_strings_joins_an_array_or_keeps_one_value()
    {
        var root = Providers(new Dictionary<string, string?> { ["A:Endpoints:0"] = "http://e1:2379", ["A:Endpoints:1"] = "http://e2:2379", ["B:Endpoints"] = "http://e3:2379;http://e4:2379" });
        var reader = new ConfigurationReader([], root);

        Assert.Equal("http://e1:2379,http://e2:2379", reader.JoinedList(root.GetSection("A"), "Endpoints"));
        Assert.Equal("http://e3:2379,http://e4:2379", reader.JoinedList(root.GetSection("B"), "Endpoints"));
        Assert.Null(reader.JoinedList(root.GetSection("C"), "Endpoints"));
    }

    [Theory]
    [InlineData("00:00:05", true)]
    [InlineData("1.00:00:00", true)]
    [InlineData("00:00:00.250", true)]
    [InlineData("5", false)]
    [InlineData("5.5", false)]
    [InlineData("soon", false)]
    public void A_time_span_needs_a_colon(string raw, bool accepted)
    {
        Assert.Equal(accepted, ConfigurationReader.TryTimeSpan(raw, out _));
    }

    [Theory]
    [InlineData("Grpc", true)]
    [InlineData("grpc", true)]
    [InlineData("1", false)]
    [InlineData("+1", false)]
    [InlineData("Http, Grpc", false)]
    [InlineData("Teapot", false)]
    public void An_enum_is_a_member_name(string raw, bool accepted)
    {
        Assert.Equal(accepted, ConfigurationReader.TryEnum<HealthCheckProtocol>(raw, out _));
    }

    [Fact]
    public void Blank_values_are_absent_and_every_error_is_kept()
    {
        var root = Providers(new Dictionary<string, string?> { ["S:A"] = " ", ["S:B"] = "x", ["S:C"] = "y", ["S:D"] = "1" });
        var errors = new List<string>();
        var reader = new ConfigurationReader(errors, root);
        var section = root.GetSection("S");

        Assert.Null(reader.Int32(section, "A"));
        Assert.Null(reader.Int32(section, "B"));
        Assert.Null(reader.Boolean(section, "C"));
        Assert.Null(reader.TimeSpan(section, "D"));
        Assert.Equal(
            ["S:B: 'x' is not an integer.", "S:C: 'y' is not valid; allowed values: true, false.", "S:D: '1' is not a time span; use hh:mm:ss[.fff], for example 00:00:05 or 00:00:00.250."],
            errors);
    }
}
