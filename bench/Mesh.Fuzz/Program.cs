using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DnsClient;
using DnsClient.Protocol;
using Mesh;
using Mesh.Containers;
using Mesh.Containers.Internal;
using Mesh.Discovery.Dns.Internal;
using Mesh.Discovery.Etcd.Internal;
using Mesh.Identity;
using SharpFuzz;

// Coverage-guided fuzzing of Mesh SDK's parsers with SharpFuzz (docs/fuzzing.md).
//   dotnet Mesh.Fuzz.dll <target>                 under afl-fuzz (SharpFuzz's out-of-process mode)
//   dotnet Mesh.Fuzz.dll <target> --libfuzzer     under libfuzzer-dotnet
//   dotnet Mesh.Fuzz.dll <target> --replay <path> runs the files of a corpus or crash folder once each, without a fuzzer
// A broken invariant throws FuzzInvariantException, which the fuzzer records as a crash.

var targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
{
    ["spiffe-id"] = Targets.SpiffeId,
    ["spiffe-pattern"] = Targets.SpiffePattern,
    ["svid"] = Targets.Svid,
    ["dockerignore"] = Targets.DockerIgnoreFile,
    ["etcd"] = Targets.EtcdEntry,
    ["dns"] = Targets.DnsAnswer,
};

if (args.Length == 0 || !targets.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Mesh.Fuzz <{string.Join('|', targets.Keys)}> [--libfuzzer | --replay <file or folder>]");
    return 2;
}

if (args.Length >= 3 && args[1] == "--replay")
{
    var files = Directory.Exists(args[2]) ? Directory.GetFiles(args[2]).Order(StringComparer.Ordinal).ToArray() : [args[2]];
    foreach (var file in files)
    {
        target(File.ReadAllBytes(file));
    }

    Console.WriteLine($"{args[0]}: {files.Length} inputs replayed, no invariant broken.");
    return 0;
}

if (args.Length >= 2 && args[1] == "--libfuzzer")
{
    Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
    return 0;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;

/// <summary>A property of the parser did not hold for an input.</summary>
internal sealed class FuzzInvariantException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One method per parser: any bytes in, the invariants of docs/fuzzing.md checked.</summary>
internal static class Targets
{
    private static readonly Lazy<(X509BundleSet Bundles, X509Certificate2 Root)> s_trust = new(() =>
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Mesh Fuzz Root", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return (X509BundleSet.Create("mesh.test", [root]), root);
    });

    private static string Text(byte[] data) => Encoding.UTF8.GetString(data);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }

    public static void SpiffeId(byte[] data)
    {
        var text = Text(data);
        var ok = Mesh.Identity.SpiffeId.TryParse(text, out var id, out var error);
        Check(ok == (error == SpiffeIdError.None), "TryParse's result and error disagree");
        if (ok)
        {
            Check(Mesh.Identity.SpiffeId.Parse(id!.ToString()) == id, "an ID does not round-trip");
            return;
        }

        try
        {
            Mesh.Identity.SpiffeId.Parse(text);
            throw new FuzzInvariantException("Parse accepted what TryParse refused");
        }
        catch (SpiffeIdFormatException e)
        {
            Check(e.Error == error && e.Message.Length > 0, "Parse's error differs from TryParse's");
        }
    }

    public static void SpiffePattern(byte[] data)
    {
        var text = Text(data);
        if (SpiffeIdPattern.TryParse(text, out var pattern))
        {
            Check(SpiffeIdPattern.Parse(pattern.ToString()).Equals(pattern), "a pattern does not round-trip");
            return;
        }

        try
        {
            SpiffeIdPattern.Parse(text);
            throw new FuzzInvariantException("Parse accepted what TryParse refused");
        }
        catch (SpiffeIdFormatException e)
        {
            var shown = text.Length <= 120 ? text : text[..117];
            Check(e.Message.Contains(shown, StringComparison.Ordinal), "the message does not name the pattern");
        }
    }

    public static void Svid(byte[] data)
    {
        X509Certificate2 leaf;
        try
        {
            leaf = X509CertificateLoader.LoadCertificate(data);
        }
        catch (CryptographicException)
        {
            return; // not a certificate: the loader's business, not the validator's
        }

        using (leaf)
        {
            var (bundles, root) = s_trust.Value;
            var result = new X509SvidValidator().Validate(leaf, [root, leaf], bundles, [SpiffeIdPattern.AnyInTrustDomain("mesh.test")]);
            Check(result.IsValid == (result.Reason == X509SvidFailureReason.None), "IsValid and Reason disagree");
            Check(!string.IsNullOrWhiteSpace(result.Message), "a result without a message");
            Check(result.IsValid || result.PeerId is null || result.Message.Contains(result.PeerId.ToString(), StringComparison.Ordinal), "a refusal that does not name the peer's ID");
        }
    }

    /// <summary>Lines up to a line "---" are the .dockerignore file; the lines after it are paths to match.</summary>
    public static void DockerIgnoreFile(byte[] data)
    {
        var lines = Text(data).Split('\n');
        var split = Array.IndexOf(lines, "---");
        var patterns = split < 0 ? lines : lines[..split];
        var paths = split < 0 ? ["a", "a/b", "a/b/c.txt"] : lines[(split + 1)..];
        DockerIgnore ignore;
        try
        {
            ignore = new DockerIgnore(patterns);
        }
        catch (DockerImageBuildException e)
        {
            Check(e.Message.Contains(".dockerignore line ", StringComparison.Ordinal), "a refusal that does not name the line");
            return;
        }

        foreach (var path in paths)
        {
            try
            {
                _ = ignore.IsExcluded(path);
            }
            catch (DockerImageBuildException)
            {
                // a pattern of thousands of characters ran out of its time on this path: documented
            }
        }
    }

    public static void EtcdEntry(byte[] data)
    {
        var ok = EtcdEndpointRecord.TryParse(data, new MetadataInterner(), out var endpoint, out var reason);
        Check(ok == (endpoint is not null) && ok == (reason is null), "result, endpoint and reason disagree");
        if (ok)
        {
            Check(endpoint!.Weight > 0 && endpoint.Address.Scheme is "http" or "https", "an accepted entry breaks the format");
            Check(endpoint.Metadata.All(p => p.Value is not null), "an accepted entry with a null label");
        }
        else
        {
            Check(!string.IsNullOrWhiteSpace(reason), "a refusal without a reason");
        }
    }

    /// <summary>Six bytes per SRV record: priority, weight, port (one byte each, scaled), target, TTL sign, address set.</summary>
    public static void DnsAnswer(byte[] data)
    {
        string[] targets = ["a", "b", "c", ".", "", "nowhere"];
        var hosts = new Dictionary<string, TargetAddresses>(StringComparer.Ordinal);
        var records = new List<SrvRecord>();
        for (var i = 0; i + 6 <= data.Length; i += 6)
        {
            var target = targets[data[i + 3] % targets.Length];
            var ttl = (data[i + 4] & 0x80) != 0 ? -data[i + 4] : data[i + 4];
            records.Add(new SrvRecord(
                new ResourceRecordInfo("_http._tcp.fuzz.", ResourceRecordType.SRV, QueryClass.IN, ttl, 0),
                (ushort)(data[i] % 4), (ushort)(data[i + 1] * 257), (ushort)(data[i + 2] == 0 ? 0 : 8000 + data[i + 2]), DnsString.Parse(target.EndsWith('.') ? target : target + ".")));
            if (target is "a" or "b" or "c" && !hosts.ContainsKey(target))
            {
                var n = data[i + 5];
                hosts[target] = n % 7 == 0
                    ? TargetAddresses.NotFound($"{target} does not resolve")
                    : new TargetAddresses([.. Enumerable.Range(0, n % 5).Select(k => k % 2 == 0 ? IPAddress.Parse($"10.0.0.{(n + k) % 4}") : IPAddress.Parse($"fd00::{(n + k) % 4}"))], TimeSpan.FromSeconds(n - 100), null);
            }
        }

        try
        {
            var result = DnsEndpointMapper.FromSrvAsync("_http._tcp.fuzz", records, "http",
                (t, _) => new(hosts.TryGetValue(t, out var answer) ? answer : TargetAddresses.NotFound($"{t} does not resolve")), CancellationToken.None)
                .AsTask().GetAwaiter().GetResult();
            Check(result.Endpoints.Count > 0 && result.Ttl >= TimeSpan.Zero, "an empty set or a negative refresh time");
            Check(result.Endpoints.Select(e => e.Key).Distinct().Count() == result.Endpoints.Count, "duplicate endpoints");
            Check(result.Skipped.All(s => s.Reason.Length > 0 && s.Record.Contains("SRV", StringComparison.Ordinal)), "a skipped record without its name or reason");
        }
        catch (DnsDiscoveryException e)
        {
            Check(e.Message.Contains("_http._tcp.fuzz", StringComparison.Ordinal), "a failure that does not name the DNS name");
        }
    }
}
