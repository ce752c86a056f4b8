using System.Text;
using CsCheck;
using Mesh.Discovery.Etcd.Internal;
using Mesh.Tests.Fuzzing;

namespace Mesh.Discovery.Tests.Etcd;

/// <summary>
/// Property-based fuzzing of the etcd entry parser (docs/fuzzing.md): any bytes, JSON-looking text (truncated, with
/// comments, trailing commas, deep nesting, wrong types, duplicate and differently cased keys, huge values), and
/// well-formed entries whose outcome the documented format decides. Properties: the parser never throws; a refused
/// entry's reason names the offending key; an accepted one carries what the entry says; the metadata interner never
/// hands an endpoint another entry's labels.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class EtcdEndpointRecordFuzzTests
{
    private static readonly string[] Keys = ["Address", "address", "ADDRESS", "Weight", "weight", "Zone", "Metadata", "metadata", "Extra", ""];

    private static readonly Gen<string> JsonString = Gen.Frequency(
        (4, Gen.OneOf("http://10.0.0.5:8080", "https://svc.internal:9443", " http://[::1]:80 ", "http://a:0", "http://a:65536", "ftp://x:1",
            "http://a/path", "http://u@a:1", "http://a:1?q", "not a url", "", "   ", "http://", "//a:1", "http://[::1", "http://a b:1",
            "eu-1a", "v1", "\u0000", "\ud800", "\u00e9")),
        (2, Gen.String[Gen.Char, 0, 20]),
        (1, Gen.Int[1000, 100_000].Select(n => "http://" + new string('a', n) + ":1")));

    /// <summary>A JSON value of any type, as text.</summary>
    private static readonly Gen<string> JsonValue = Gen.Recursive<string>((depth, inner) => Gen.Frequency(
        (4, JsonString.Select(Quote)),
        (3, Gen.OneOf("0", "1", "3", "-1", "2147483647", "2147483648", "-2147483649", "1.5", "1e3", "true", "false", "null", "9999999999999999999999")),
        (depth < 3 ? 1 : 0, inner.Array[0, 3].Select(items => "[" + string.Join(",", items) + "]")),
        (depth < 3 ? 2 : 0, Gen.Select(Gen.OneOf(Keys), inner, (k, v) => (k, v)).Array[0, 3]
            .Select(members => "{" + string.Join(",", members.Select(m => $"{Quote(m.k)}:{m.v}")) + "}"))));

    /// <summary>Metadata objects: string values (some with NUL, the interner's separator), nulls, other types.</summary>
    private static readonly Gen<string> MetadataValue = Gen.Frequency(
        (6, Gen.Select(Gen.String[Gen.Char["ab\0="], 0, 3], Gen.String[Gen.Char["ab\0="], 0, 3], (k, v) => (k, v)).Array[0, 3]
            .Select(pairs => "{" + string.Join(",", pairs.DistinctBy(p => p.k).Select(p => $"{Quote(p.k)}:{Quote(p.v)}")) + "}")),
        (1, Gen.OneOf("""{"version": null}""", """{"version": 1}""", """{"a": {"b": "c"}}""", "[]", "null", "\"v1\"")),
        (1, JsonValue));

    private static readonly Gen<string> Entry = Gen.Select(Gen.OneOf(Keys), Gen.Frequency((3, JsonValue), (1, MetadataValue)), (k, v) => $"{Quote(k)}: {v}")
        .Array[0, 6]
        .Select(Gen.Bool, Gen.Bool, (members, comment, trailingComma) =>
            "{" + (comment ? "/* c */ " : "") + string.Join(", ", members) + (trailingComma && members.Length > 0 ? "," : "") + "}");

    private static readonly Gen<byte[]> AnyBytes = Gen.Frequency(
        (5, Entry.Select(Encoding.UTF8.GetBytes)),
        (2, Entry.Select(Gen.Int[0, 200], Gen.Byte, (text, cut, b) =>
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            if (bytes.Length == 0)
            {
                return bytes;
            }

            bytes[cut % bytes.Length] ^= b; // a flipped byte: broken JSON, invalid UTF-8
            return bytes[..Math.Max(1, bytes.Length - (cut % 3))];
        })),
        (1, Gen.Byte.Array[0, 64]),
        (1, Gen.Int[1, 2000].Select(depth => Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)))),
        (1, Gen.Int[1, 200].Select(depth => Encoding.UTF8.GetBytes("{\"Metadata\":" + string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "\"x\"" + new string('}', depth + 1)))));

    [Fact]
    public void Any_bytes_parse_or_are_refused_with_a_reason_naming_the_key_and_nothing_throws()
    {
        FuzzCheck.Run(AnyBytes, bytes =>
        {
            var ok = EtcdEndpointRecord.TryParse(bytes, out var endpoint, out var reason);
            Assert.Equal(ok, endpoint is not null);
            Assert.Equal(ok, reason is null);
            if (!ok)
            {
                Assert.False(string.IsNullOrWhiteSpace(reason));
                Assert.True(
                    reason!.Contains("\"Address\"", StringComparison.Ordinal) || reason.Contains("\"Weight\"", StringComparison.Ordinal) ||
                    reason.Contains("\"Metadata\"", StringComparison.Ordinal) || reason.Contains("Path: $", StringComparison.Ordinal) ||
                    reason.Contains("not a JSON object", StringComparison.Ordinal),
                    $"the reason names no key: {reason}");
                return;
            }

            Assert.True(endpoint!.Address.Scheme is "http" or "https");
            Assert.True(endpoint.Weight > 0);
            Assert.All(endpoint.Metadata, pair => Assert.NotNull(pair.Value));
        }, cases: 2_000, print: Show);
    }

    /// <summary>Entries with one well-formed value per key, whose outcome the documented format decides.</summary>
    private sealed record Clean(string? Address, string? Weight, string? Zone, string? Metadata)
    {
        public string Json => "{" + string.Join(", ", new[]
        {
            Address is null ? null : $"\"Address\": {Address}",
            Weight is null ? null : $"\"Weight\": {Weight}",
            Zone is null ? null : $"\"Zone\": {Zone}",
            Metadata is null ? null : $"\"Metadata\": {Metadata}",
        }.Where(m => m is not null)) + "}";
    }

    private static readonly Gen<Clean> CleanEntry = Gen.Select(
        Gen.Frequency((8, Gen.OneOf("\"http://10.0.0.5:8080\"", "\"https://svc.internal:9443\"", "\" http://[::1]:80 \"")),
            (3, Gen.OneOf("\"ftp://x:1\"", "\"http://a/path\"", "\"not a url\"", "\"\"", "\"   \"", "null", "1", "[]")), (1, Gen.Const((string?)null))),
        Gen.Frequency((4, Gen.Const((string?)null)), (4, Gen.OneOf("1", "3", "2147483647", "null")), (3, Gen.OneOf("0", "-3", "2147483648", "1.5", "\"3\"", "{}"))),
        Gen.Frequency((4, Gen.Const((string?)null)), (3, Gen.OneOf("\"eu-1a\"", "\"\"", "null")), (1, Gen.OneOf("1", "[]"))),
        Gen.Frequency((4, Gen.Const((string?)null)), (4, Gen.OneOf("{}", "{\"version\": \"v1\"}", "{\"a\": \"1\", \"b\": \"\"}", "null")),
            (2, Gen.OneOf("{\"version\": null}", "{\"version\": 1}", "[]", "\"v1\""))),
        (address, weight, zone, metadata) => new Clean(address, weight, zone, metadata));

    [Fact]
    public void Well_formed_entries_are_taken_or_refused_as_the_format_says_naming_the_offending_key()
    {
        FuzzCheck.Run(CleanEntry, entry =>
        {
            var ok = EtcdEndpointRecord.TryParse(Encoding.UTF8.GetBytes(entry.Json), out var endpoint, out var reason);

            // The first offending key: type errors in document order (Address, Weight, Zone, Metadata), then the
            // checks of the format: Address present, Weight positive, Address usable, metadata values strings.
            string? offending =
                entry.Address is "1" or "[]" ? "Address" :
                entry.Weight is "2147483648" or "1.5" or "\"3\"" or "{}" ? "Weight" :
                entry.Zone is "1" or "[]" ? "Zone" :
                entry.Metadata is "{\"version\": 1}" or "[]" or "\"v1\"" ? "Metadata" :
                entry.Address is null or "null" or "\"\"" or "\"   \"" ? "Address" :
                entry.Weight is "0" or "-3" ? "Weight" :
                entry.Address is "\"ftp://x:1\"" or "\"http://a/path\"" or "\"not a url\"" ? "Address" :
                entry.Metadata is "{\"version\": null}" ? "version" :
                null;
            if (offending is null)
            {
                Assert.True(ok, reason);
                Assert.Equal(entry.Weight is null or "null" ? 1 : int.Parse(entry.Weight, System.Globalization.CultureInfo.InvariantCulture), endpoint!.Weight);
                Assert.Equal(entry.Zone is "\"eu-1a\"" ? "eu-1a" : null, endpoint.Zone);
                Assert.Equal(entry.Metadata switch { "{\"version\": \"v1\"}" => 1, "{\"a\": \"1\", \"b\": \"\"}" => 2, _ => 0 }, endpoint.Metadata.Count);
                Assert.Equal(endpoint, Reparsed(endpoint));
            }
            else
            {
                Assert.False(ok, $"accepted, but {offending} is wrong");
                Assert.Contains(offending, reason, StringComparison.Ordinal);
            }
        }, cases: 2_000, print: e => e.Json);
    }

    [Fact]
    public void The_metadata_interner_never_gives_an_endpoint_the_labels_of_another_entry()
    {
        var labels = Gen.Select(Gen.String[Gen.Char["ab\0"], 0, 3], Gen.String[Gen.Char["ab\0"], 0, 3], (k, v) => (k, v)).Array[1, 3]
            .Select(pairs => pairs.DistinctBy(p => p.k).ToDictionary(p => p.k, p => p.v, StringComparer.Ordinal));
        FuzzCheck.Run(labels.Array[2, 12], sets =>
        {
            var interner = new MetadataInterner();
            foreach (var set in sets)
            {
                var json = EtcdEndpointRecord.Serialize(new EtcdEndpointRecord { Address = "http://10.0.0.5:8080", Metadata = set });
                Assert.True(EtcdEndpointRecord.TryParse(json, interner, out var endpoint, out var reason), reason);
                Assert.Equal(set.OrderBy(p => p.Key, StringComparer.Ordinal), endpoint!.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal));
            }
        }, cases: 400, print: sets => string.Join(" | ", sets.Select(s => string.Join(", ", s.Select(p => $"{Escape(p.Key)}={Escape(p.Value)}")))));
    }

    // ---------------------------------------------------------------- regressions found by the properties above

    [Fact]
    public void Two_label_sets_that_join_to_the_same_text_are_not_shared()
    {
        // Shrunk by CsCheck: the interner keyed sets by "name\0value\0", so {"": "b\0"} and {"\0b": ""} were one set
        // and the second endpoint got the first one's labels.
        var interner = new MetadataInterner();
        Assert.True(EtcdEndpointRecord.TryParse("""{"Address": "http://10.0.0.5:8080", "Metadata": {"": "b\u0000"}}"""u8, interner, out _, out _));

        Assert.True(EtcdEndpointRecord.TryParse("""{"Address": "http://10.0.0.6:8080", "Metadata": {"\u0000b": ""}}"""u8, interner, out var second, out _));

        Assert.Equal("", Assert.Single(second!.Metadata, p => p.Key == "\0b").Value);
    }

    [Fact]
    public void A_null_metadata_value_is_refused_naming_the_label()
    {
        // Shrunk by CsCheck: {"version": null} was taken, and MeshEndpoint.Metadata held a null string.
        Assert.False(EtcdEndpointRecord.TryParse("""{"Address": "https://svc.internal:9443", "Metadata": {"version": null}}"""u8, out _, out var reason));

        Assert.Contains("\"Metadata\"", reason, StringComparison.Ordinal);
        Assert.Contains("\"version\"", reason, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- helpers

    private static MeshEndpoint Reparsed(MeshEndpoint endpoint)
    {
        var json = EtcdEndpointRecord.Serialize(new EtcdEndpointRecord
        {
            Address = endpoint.Address.ToString(),
            Weight = endpoint.Weight,
            Zone = endpoint.Zone,
            Metadata = endpoint.Metadata.Count == 0 ? null : endpoint.Metadata.ToDictionary(StringComparer.Ordinal),
        });
        Assert.True(EtcdEndpointRecord.TryParse(json, out var again, out var reason), reason);
        return again!;
    }

    private static string Quote(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    private static string Escape(string text) => string.Concat(text.Select(c => c is >= ' ' and < (char)0x7F ? c.ToString() : $"\\u{(int)c:X4}"));

    private static string Show(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        return text.Length > 300 ? $"<{bytes.Length} bytes> {Escape(text[..200])}..." : Escape(text);
    }
}
