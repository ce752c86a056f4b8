using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CsCheck;
using Mesh.Identity;
using Mesh.Tests.Fuzzing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Identity;

/// <summary>
/// Property-based fuzzing of <see cref="X509SvidValidator"/> and <see cref="X509Svid"/> with generated certificates
/// (docs/fuzzing.md): any number of subjectAltName extensions holding URIs (valid, near-valid, non-ASCII bytes, huge),
/// DNS names, IP addresses and raw garbage; basic constraints and key usage present, absent, critical or not, or
/// malformed; unknown extensions (critical or not); validity windows in the past, the future and at the encoding's
/// extremes; leaves signed by the trusted root, through an intermediate, by an untrusted root or by themselves;
/// intermediates sent in any order, duplicated, with the leaf and roots mixed in; and DER mutated after signing.
/// Properties: the validator never throws, every refusal has a reason and a message naming what was presented, and the
/// reason is the one the X.509-SVID rules give for the certificate that was built.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class X509SvidValidatorFuzzTests : IDisposable
{
    private const string TrustDomain = "mesh.test";
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly Authority _root = Authority.CreateRoot("CN=Fuzz Root", Now.AddYears(-1), Now.AddYears(10));
    private readonly Authority _otherRoot = Authority.CreateRoot("CN=Fuzz Root", Now.AddYears(-1), Now.AddYears(10));
    private readonly Authority _intermediate;
    private readonly ECDsa[] _leafKeys = [.. Enumerable.Range(0, 4).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256))];
    private readonly X509BundleSet _bundles;

    public X509SvidValidatorFuzzTests()
    {
        _intermediate = _root.CreateIntermediate("CN=Fuzz Intermediate", Now.AddYears(-1), Now.AddYears(5));
        _bundles = X509BundleSet.Create(TrustDomain, [_root.Certificate]);
    }

    public void Dispose()
    {
        _root.Dispose();
        _otherRoot.Dispose();
        _intermediate.Dispose();
        foreach (var key in _leafKeys)
        {
            key.Dispose();
        }
    }

    // ---------------------------------------------------------------- generated certificates

    private enum Signer { Root, Intermediate, OtherRoot, Self }

    private enum Window { Valid, Expired, NotYetValid, Ancient, FarFuture }

    /// <summary>One GeneralName: a URI (text or raw bytes), a DNS name, an IP address or an email.</summary>
    private sealed record Name(int Kind, string Text, byte[] Bytes)
    {
        public override string ToString() => Kind switch
        {
            0 => $"URI:{Quote(Text)}",
            1 => $"URI-bytes:{Convert.ToHexString(Bytes)}",
            2 => $"DNS:{Text}",
            3 => $"IP:{Convert.ToHexString(Bytes)}",
            _ => $"email:{Text}",
        };
    }

    /// <summary>A subjectAltName extension: names, or raw garbage in place of GeneralNames.</summary>
    private sealed record San(Name[] Names, byte[]? Garbage, bool Critical)
    {
        public override string ToString() => Garbage is null
            ? $"SAN{(Critical ? "!" : "")}[{string.Join(", ", Names.Select(n => n.ToString()))}]"
            : $"SAN{(Critical ? "!" : "")}<{Convert.ToHexString(Garbage)}>";
    }

    /// <summary>Basic constraints (CA flag) or key usage: well-formed with a value, or malformed bytes.</summary>
    private sealed record Flags(int Value, byte[]? Garbage, bool Critical)
    {
        public override string ToString() => Garbage is null ? $"{Value}{(Critical ? "!" : "")}" : $"<{Convert.ToHexString(Garbage)}>{(Critical ? "!" : "")}";
    }

    private sealed record Extra(string Oid, byte[] Value, bool Critical)
    {
        public override string ToString() => $"{Oid}{(Critical ? "!" : "")}={Convert.ToHexString(Value)}";
    }

    private sealed record Spec(
        San[] Sans,
        Flags[] BasicConstraints,
        Flags[] KeyUsages,
        Extra[] Extras,
        Window Window,
        Signer Signer,
        int[] Intermediates,
        byte[] Serial,
        string CommonName,
        int Authorized,
        (int Position, byte Value)[] Mutations,
        int Truncate)
    {
        public override string ToString() =>
            $"sans=[{string.Join("; ", Sans.Select(s => s.ToString()))}] bc=[{string.Join(", ", BasicConstraints.Select(b => b.ToString()))}] " +
            $"ku=[{string.Join(", ", KeyUsages.Select(k => k.ToString()))}] extras=[{string.Join(", ", Extras.Select(e => e.ToString()))}] " +
            $"window={Window} signer={Signer} intermediates=[{string.Join(",", Intermediates)}] serial={Convert.ToHexString(Serial)} " +
            $"cn={Quote(CommonName)} authorized={Authorized} mutations=[{string.Join(",", Mutations.Select(m => $"{m.Position}:{m.Value:X2}"))}] truncate={Truncate}";
    }

    private static readonly Gen<string> SpiffeText = Gen.Frequency(
        (6, Gen.String[Gen.Char["abcz09"], 1, 8].Select(Gen.String[Gen.Char["abcXZ09.-_"], 1, 8], (a, b) => $"spiffe://{TrustDomain}/{a}/{b}")),
        (2, Gen.String[Gen.Char["abc"], 1, 6].Select(a => $"spiffe://other.test/{a}")),
        (1, Gen.Const($"spiffe://{TrustDomain}")),
        (3, Gen.OneOf(
            "spiffe://Mesh.test/a", "spiffe://mesh.test/a/", "spiffe://mesh.test//a", "spiffe://mesh.test/./a", "spiffe://mesh.test/a%2Fb",
            "spiffe://mesh.test:8443/a", "spiffe://user@mesh.test/a", "spiffe://mesh.test/a?x=1", "spiffe://mesh.test/a#f",
            "SPIFFE://mesh.test/a", "https://mesh.test/a", "spiffe:/mesh.test/a", "", "spiffe://", "spiffe:///a", "urn:uuid:1234")),
        (2, Gen.String[Gen.Char[(char)0, (char)127], 0, 40]),
        (1, Gen.Int[2000, 70_000].Select(n => $"spiffe://{TrustDomain}/" + new string('a', n))));

    private static readonly Gen<Name> NameGen = Gen.Frequency(
        (8, SpiffeText.Select(t => new Name(0, t, []))),
        (1, Gen.Byte.Array[0, 20].Select(b => new Name(1, "", b))),
        (2, Gen.String[Gen.Char["abcz.-"], 1, 20].Select(t => new Name(2, t, []))),
        (1, Gen.OneOf(Gen.Byte.Array[4], Gen.Byte.Array[16], Gen.Byte.Array[0, 20]).Select(b => new Name(3, "", b))),
        (1, Gen.String[Gen.Char["abc@."], 1, 12].Select(t => new Name(4, t, []))));

    private static readonly Gen<San> SanGen = Gen.Frequency(
        (10, Gen.Select(Gen.Frequency((8, NameGen.Array[1, 3]), (1, NameGen.Array[0]), (1, NameGen.Array[50, 300])), Gen.Frequency((9, Gen.Const(false)), (1, Gen.Const(true))), (names, critical) => new San(names, null, critical))),
        (1, Gen.Select(Gen.Byte.Array[0, 40], Gen.Bool, (garbage, critical) => new San([], garbage, critical))));

    private static readonly Gen<Flags> BasicConstraintsGen = Gen.Frequency(
        (8, Gen.Select(Gen.Int[0, 1], Gen.Bool, (ca, critical) => new Flags(ca, null, critical))),
        (1, Gen.Select(Gen.Byte.Array[0, 12], Gen.Bool, (garbage, critical) => new Flags(0, garbage, critical))));

    private static readonly Gen<Flags> KeyUsageGen = Gen.Frequency(
        (6, Gen.Const(new Flags((int)X509KeyUsageFlags.DigitalSignature, null, true))),
        (4, Gen.Select(Gen.Int[0, 0x1FF], Gen.Bool, (flags, critical) => new Flags(flags, null, critical))),
        (1, Gen.Select(Gen.Byte.Array[0, 8], Gen.Bool, (garbage, critical) => new Flags(0, garbage, critical))));

    private static readonly Gen<Extra> ExtraGen = Gen.Select(
        Gen.Frequency(
            (2, Gen.OneOf("2.5.29.37", "2.5.29.30", "2.5.29.35", "2.5.29.14", "1.3.6.1.5.5.7.1.1", "2.5.29.31", "2.5.29.32", "2.5.29.18")),
            (1, Gen.Int[0, 10_000].Select(n => $"1.3.6.1.4.1.99999.{n}"))),
        Gen.Frequency((6, Gen.Byte.Array[0, 24]), (1, Gen.Byte.Array[1000, 5000])),
        Gen.Frequency((5, Gen.Const(false)), (1, Gen.Const(true))),
        (oid, value, critical) => new Extra(oid, value, critical));

    private static readonly Gen<Spec> SpecGen =
        Gen.Select(
            Gen.Frequency((12, SanGen.Array[1]), (2, SanGen.Array[0]), (1, SanGen.Array[2, 3])),
            Gen.Frequency((4, BasicConstraintsGen.Array[1]), (2, BasicConstraintsGen.Array[0]), (1, BasicConstraintsGen.Array[2])),
            Gen.Frequency((8, KeyUsageGen.Array[1]), (1, KeyUsageGen.Array[0]), (1, KeyUsageGen.Array[2])),
            Gen.Frequency((6, ExtraGen.Array[0]), (3, ExtraGen.Array[1, 3]), (1, ExtraGen.Array[50, 150])).Select(e => e.DistinctBy(x => x.Oid).ToArray()),
            Gen.Frequency((8, Gen.Const(Window.Valid)), (1, Gen.Enum<Window>())),
            Gen.Frequency((6, Gen.Const(Signer.Root)), (3, Gen.Const(Signer.Intermediate)), (1, Gen.Enum<Signer>())),
            Gen.Frequency((6, Gen.Int[0, 5].Array[0, 4]), (1, Gen.Int[0, 5].Array[40, 120])),
            Gen.Frequency((8, Gen.Byte.Array[1, 20]), (1, Gen.Byte.Array[0, 40])))
        .Select(
            Gen.String[Gen.Frequency((8, Gen.Char.AlphaNumeric), (1, Gen.Char[(char)1, (char)0xD7FF])), 0, 30],
            Gen.Int[0, 4],
            Gen.Frequency((6, Gen.Select(Gen.Int[0, 4000], Gen.Byte).Array[0]), (2, Gen.Select(Gen.Int[0, 4000], Gen.Byte).Array[1, 4])),
            Gen.Frequency((9, Gen.Const(0)), (1, Gen.Int[1, 2000])),
            (parts, cn, authorized, mutations, truncate) => new Spec(
                parts.Item1, parts.Item2, parts.Item3, parts.Item4, parts.Item5, parts.Item6, parts.Item7, parts.Item8,
                cn, authorized, mutations, truncate));

    // ---------------------------------------------------------------- properties

    [Fact]
    public void Validator_never_throws_and_every_refusal_has_a_reason_and_a_message()
    {
        FuzzCheck.Run(SpecGen, spec =>
        {
            using var leaf = Build(spec, out var intact);
            if (leaf is null)
            {
                return; // the mutated DER is not a certificate at all: the loader refused it, the validator never sees it
            }

            var intermediates = Intermediates(spec, leaf);
            var authorized = Authorized(spec.Authorized);
            var validator = new X509SvidValidator(new FakeTimeProvider(Now));

            var result = validator.Validate(leaf, intermediates, _bundles, authorized);

            Assert.Equal(result.Reason == X509SvidFailureReason.None, result.IsValid);
            Assert.True(Enum.IsDefined(result.Reason), $"undefined reason {result.Reason}");
            Assert.False(string.IsNullOrWhiteSpace(result.Message));
            if (result.PeerId is { } id && !result.IsValid)
            {
                Assert.Contains(id.ToString(), result.Message, StringComparison.Ordinal);
            }

            if (result.Reason is X509SvidFailureReason.MultipleUriSans or X509SvidFailureReason.InvalidSpiffeId && result.PresentedIdentity is { } presented)
            {
                Assert.Contains(Shorten(presented), result.Message, StringComparison.Ordinal);
            }

            if (intact)
            {
                Assert.Equal(Expected(spec, result.Reason), result.Reason);
            }

            // The same certificate again (the chain cache may answer now) gives the same outcome.
            Assert.Equal(result.Reason, validator.Validate(leaf, intermediates, _bundles, authorized).Reason);
        }, cases: 200, print: spec => spec.ToString());
    }

    [Fact]
    public void X509Svid_accepts_exactly_the_leaves_the_validator_accepts_structurally_and_throws_only_ArgumentException()
    {
        FuzzCheck.Run(SpecGen, spec =>
        {
            using var leaf = Build(spec, out var intact);
            if (leaf is null || !intact)
            {
                return; // a mutated certificate no longer matches its key
            }

            X509Certificate2 withKey;
            try
            {
                withKey = leaf.CopyWithPrivateKey(_leafKeys[spec.Serial.Length % _leafKeys.Length]);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                return; // the BCL itself refuses to pair the key with this certificate (key usage malformed or not for ECDSA)
            }

            using var disposeWithKey = withKey;
            var structural = X509SvidValidator.Default.Validate(withKey, null, X509BundleSet.Empty).Reason;
            var error = Record.Exception(() => new X509Svid(withKey));
            if (structural is X509SvidFailureReason.UnknownTrustDomain or X509SvidFailureReason.None)
            {
                Assert.Null(error);
            }
            else
            {
                var e = Assert.IsType<ArgumentException>(error);
                Assert.Contains(structural.ToString(), e.Message, StringComparison.Ordinal);
            }
        }, cases: 80, print: spec => spec.ToString());
    }

    // ---------------------------------------------------------------- regressions found by the properties above

    [Fact]
    public void A_malformed_basic_constraints_extension_is_refused_as_leaf_is_ca_instead_of_throwing()
    {
        // Shrunk by CsCheck: the validator read X509BasicConstraintsExtension.CertificateAuthority, which throws
        // CryptographicException ("ASN1 corrupted data") on a malformed value, out of Validate.
        var spec = Minimal() with { BasicConstraints = [new Flags(0, [0xA9, 0xCD], false)] };
        using var leaf = Build(spec, out _)!;

        var result = X509SvidValidator.Default.Validate(leaf, null, _bundles);

        Assert.Equal(X509SvidFailureReason.LeafIsCa, result.Reason);
        Assert.Contains("basic constraints", result.Message, StringComparison.Ordinal);
        Assert.Contains("malformed", result.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/a", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_key_usage_extension_is_refused_as_bad_key_usage_instead_of_throwing()
    {
        var spec = Minimal() with { KeyUsages = [new Flags(0, [0x03], true)] };
        using var leaf = Build(spec, out _)!;

        var result = X509SvidValidator.Default.Validate(leaf, null, _bundles);

        Assert.Equal(X509SvidFailureReason.BadKeyUsage, result.Reason);
        Assert.Contains("malformed", result.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/a", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void X509Svid_refuses_a_malformed_basic_constraints_extension_with_ArgumentException()
    {
        var spec = Minimal() with { BasicConstraints = [new Flags(0, [0xA9, 0xCD], false)] };
        using var leaf = Build(spec, out _)!;
        using var withKey = leaf.CopyWithPrivateKey(_leafKeys[spec.Serial.Length % _leafKeys.Length]);

        var e = Assert.Throws<ArgumentException>(() => new X509Svid(withKey));

        Assert.Contains(nameof(X509SvidFailureReason.LeafIsCa), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_the_platform_chain_builder_chokes_on_is_refused_as_untrusted_instead_of_throwing()
    {
        // Found by CsCheck (10x run): a leaf for spiffe://mesh.test/bbazaa/-a-9 with three bytes flipped, in the serial,
        // the notAfter time ("260602j20000Z") and the public key. X509CertificateLoader takes it, but X509Chain.Build
        // throws CryptographicException ("x509 certificate routines::internal error") out of Validate.
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromHexString(
            "3082018A30820130A003020102020C58FF40F74F7D1AD71615A7AA300A06082A8648CE3D0403023014311230100603550403" +
            "130946757A7A20526F6F74301E170D3236303533313132303030305A170D3236303630326A32303030305A302D312B302906" +
            "035504030C226C486A6AE9BE817144486835614B7835396D4E71366170454DED93B44F72425A50503059301306072A8648CE" +
            "3D020106082A8648CE3D030107034200044B82EE36F12C2C2597B44DEC78ECBA063236C64386353F76E54AD17B081DC93B15" +
            "A75C0D77F274C1BAF2F1CC0E605B4243B93CE4C6BF2ED6A471DEC75983B4FCA34F304D303B0603551D11043430328710A18C" +
            "DEB7FD413FE1C10105A4CD3A27ED861E7370696666653A2F2F6D6573682E746573742F6262617A61612F2D612D39300E0603" +
            "551D0F0101FF040403020780300A06082A8648CE3D04030203480030450221008E78C956CA1B47E42D347C0A88005C92475E" +
            "5762FAEDCF83EAD742FA4B259E0602205DD0DF0FEE30B0FAE1372DB96A3B0E125AB676EBAFB4277698BA1CC2E8C6E547"));

        var result = new X509SvidValidator(new FakeTimeProvider(Now)).Validate(leaf, null, _bundles);

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, result.Reason);
        Assert.Contains("spiffe://mesh.test/bbazaa/-a-9", result.Message, StringComparison.Ordinal);
    }

    /// <summary>A valid X.509-SVID for spiffe://mesh.test/a signed by the trusted root; regressions change one part.</summary>
    private static Spec Minimal() => new(
        [new San([new Name(0, "spiffe://mesh.test/a", [])], null, false)], [], [new Flags((int)X509KeyUsageFlags.DigitalSignature, null, true)], [],
        Window.Valid, Signer.Root, [], [1], "leaf", 0, [], 0);

    // ---------------------------------------------------------------- the oracle: the X.509-SVID rules

    /// <summary>The reason the rules give for a certificate built from <paramref name="spec"/> (not mutated).</summary>
    /// <param name="spec">What was built.</param>
    /// <param name="actual">What the validator said, accepted where the rules leave the choice to the chain builder.</param>
    private static X509SvidFailureReason Expected(Spec spec, X509SvidFailureReason actual)
    {
        if (spec.Sans.Any(s => s.Garbage is not null))
        {
            // Random bytes in place of GeneralNames: malformed ones must be refused as such; the rare well-formed
            // ones are left to the general properties.
            return spec.Sans.Any(s => s.Garbage is not null && !IsWellFormedGeneralNames(s.Garbage))
                ? X509SvidFailureReason.InvalidSpiffeId
                : actual;
        }

        var uris = spec.Sans.SelectMany(s => s.Names).Where(n => n.Kind is 0 or 1).ToList();
        if (uris.Any(u => u.Kind == 1 && u.Bytes.Any(b => b > 0x7F)))
        {
            return X509SvidFailureReason.InvalidSpiffeId; // not an IA5String: the extension is malformed
        }

        switch (uris.Count)
        {
            case 0:
                return X509SvidFailureReason.NoUriSan;
            case > 1:
                return X509SvidFailureReason.MultipleUriSans;
        }

        var uri = uris[0].Kind == 0 ? uris[0].Text : Encoding.ASCII.GetString(uris[0].Bytes);
        if (!SpiffeId.TryParse(uri, out var id))
        {
            return X509SvidFailureReason.InvalidSpiffeId;
        }

        if (spec.BasicConstraints.Any(b => b.Garbage is not null ? !IsWellFormedBasicConstraints(b.Garbage, out _) || IsCa(b.Garbage) : b.Value == 1))
        {
            return X509SvidFailureReason.LeafIsCa;
        }

        if (spec.KeyUsages.Length == 0)
        {
            return X509SvidFailureReason.BadKeyUsage;
        }

        var keyUsage = spec.KeyUsages[0];
        if (keyUsage.Garbage is not null || !keyUsage.Critical ||
            (keyUsage.Value & (int)X509KeyUsageFlags.DigitalSignature) == 0 ||
            (keyUsage.Value & (int)(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign)) != 0)
        {
            return X509SvidFailureReason.BadKeyUsage;
        }

        var authorized = Authorized(spec.Authorized);
        if (authorized is { Length: > 0 } && !authorized.Any(p => id.IsMemberOf(p.TrustDomain)))
        {
            return X509SvidFailureReason.WrongTrustDomain;
        }

        if (!id.IsMemberOf(TrustDomain))
        {
            return X509SvidFailureReason.UnknownTrustDomain;
        }

        var chainsToRoot = !HasDuplicates(spec) && (spec.Signer == Signer.Root ||
                           (spec.Signer == Signer.Intermediate && spec.Intermediates.Any(i => i is 0 or 5)));
        if (!chainsToRoot)
        {
            return X509SvidFailureReason.UntrustedIssuer;
        }

        // The platform's chain builder has the last word on what it does not understand or finds malformed:
        // unknown or garbled extensions (critical or not: a garbled authority key identifier misleads the search for
        // the issuer), IP addresses of odd lengths. There, a refusal as untrusted is right too.
        var platformMayRefuse = spec.Extras.Length > 0 || spec.Sans.Any(s => s.Names.Any(n => n.Kind == 3 && n.Bytes.Length is not (4 or 16)));
        if (actual == X509SvidFailureReason.UntrustedIssuer && platformMayRefuse)
        {
            return actual;
        }

        var timeProblem = spec.Window switch
        {
            Window.Expired or Window.Ancient => X509SvidFailureReason.Expired,
            Window.NotYetValid or Window.FarFuture => X509SvidFailureReason.NotYetValid,
            _ => X509SvidFailureReason.None,
        };
        if (timeProblem != X509SvidFailureReason.None)
        {
            return timeProblem;
        }

        return authorized is not { Length: > 0 } || SpiffeIdPattern.IsMatchAny(authorized, id)
            ? X509SvidFailureReason.None
            : X509SvidFailureReason.NotAuthorized;
    }

    private static bool IsWellFormedGeneralNames(byte[] der)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            while (names.HasData)
            {
                names.ReadEncodedValue();
            }

            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static bool IsWellFormedBasicConstraints(byte[] der, out bool ca)
    {
        ca = false;
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var sequence = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            if (sequence.HasData && sequence.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
            {
                ca = sequence.ReadBoolean();
            }

            if (sequence.HasData)
            {
                sequence.ReadInteger();
            }

            sequence.ThrowIfNotEmpty();
            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static bool IsCa(byte[] der) => IsWellFormedBasicConstraints(der, out var ca) && ca;

    // ---------------------------------------------------------------- building

    private X509Certificate2? Build(Spec spec, out bool intact)
    {
        var key = _leafKeys[spec.Serial.Length % _leafKeys.Length];
        var subject = new X500DistinguishedNameBuilder();
        if (spec.CommonName.Length > 0)
        {
            subject.AddCommonName(spec.CommonName);
        }

        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        // CertificateRequest refuses a second extension with the same OID (RFC 5280 forbids them, but a peer may send
        // them anyway): the second and later ones go in under a placeholder OID of the same length (2.5.30.x, 2.5.31.x), patched to
        // 2.5.29.x in the signed DER, which breaks the signature but not the structure the leaf checks read.
        for (var i = 0; i < spec.Sans.Length; i++)
        {
            request.CertificateExtensions.Add(new X509Extension(Placeholder(17, i), spec.Sans[i].Garbage ?? Encode(spec.Sans[i].Names), spec.Sans[i].Critical));
        }

        for (var i = 0; i < spec.BasicConstraints.Length; i++)
        {
            var bc = spec.BasicConstraints[i];
            var value = bc.Garbage ?? new X509BasicConstraintsExtension(bc.Value == 1, false, 0, bc.Critical).RawData;
            request.CertificateExtensions.Add(new X509Extension(Placeholder(19, i), value, bc.Critical));
        }

        for (var i = 0; i < spec.KeyUsages.Length; i++)
        {
            var ku = spec.KeyUsages[i];
            var value = ku.Garbage ?? new X509KeyUsageExtension((X509KeyUsageFlags)ku.Value, ku.Critical).RawData;
            request.CertificateExtensions.Add(new X509Extension(Placeholder(15, i), value, ku.Critical));
        }

        foreach (var extra in spec.Extras)
        {
            request.CertificateExtensions.Add(new X509Extension(extra.Oid, extra.Value, extra.Critical));
        }

        var (notBefore, notAfter) = spec.Window switch
        {
            Window.Valid => (Now.AddDays(-1), Now.AddDays(1)),
            Window.Expired => (Now.AddDays(-10), Now.AddDays(-1)),
            Window.NotYetValid => (Now.AddDays(1), Now.AddDays(10)),
            Window.Ancient => (new DateTimeOffset(1950, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(1950, 1, 2, 0, 0, 0, TimeSpan.Zero)),
            _ => (new DateTimeOffset(9999, 12, 30, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero)),
        };
        var serial = spec.Serial.Length == 0 ? [0] : spec.Serial;
        var (issuerName, signer) = spec.Signer switch
        {
            Signer.Root => (_root.Certificate.SubjectName, _root.Generator),
            Signer.Intermediate => (_intermediate.Certificate.SubjectName, _intermediate.Generator),
            Signer.OtherRoot => (_otherRoot.Certificate.SubjectName, _otherRoot.Generator),
            _ => (request.SubjectName, X509SignatureGenerator.CreateForECDsa(key)),
        };

        var certificate = request.Create(issuerName, signer, notBefore, notAfter, serial);
        intact = spec.Mutations.Length == 0 && spec.Truncate == 0;
        if (intact && !HasDuplicates(spec))
        {
            return certificate;
        }

        var der = certificate.RawData;
        certificate.Dispose();
        if (HasDuplicates(spec))
        {
            PatchPlaceholderOids(der);
        }

        foreach (var (position, value) in spec.Mutations)
        {
            der[position % der.Length] ^= value == 0 ? (byte)1 : value;
        }

        if (spec.Truncate > 0)
        {
            der = der[..Math.Max(0, der.Length - spec.Truncate)];
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static bool HasDuplicates(Spec spec) => spec.Sans.Length > 1 || spec.BasicConstraints.Length > 1 || spec.KeyUsages.Length > 1;

    /// <summary>2.5.29.x for the first extension of a kind, 2.5.30.x and 2.5.31.x for the second and third.</summary>
    private static string Placeholder(int kind, int index) => $"2.5.{29 + index}.{kind}";

    private static void PatchPlaceholderOids(byte[] der)
    {
        for (var i = 0; i + 4 < der.Length; i++)
        {
            if (der[i] == 0x06 && der[i + 1] == 0x03 && der[i + 2] == 0x55 && der[i + 3] is 0x1E or 0x1F && der[i + 4] is 0x11 or 0x13 or 0x0F)
            {
                der[i + 3] = 0x1D;
            }
        }
    }

    private X509Certificate2[] Intermediates(Spec spec, X509Certificate2 leaf) =>
        [.. spec.Intermediates.Select(i => i switch
        {
            0 => _intermediate.Certificate,
            1 => _root.Certificate,
            2 => _otherRoot.Certificate,
            3 => leaf,
            4 => X509CertificateLoader.LoadCertificate(leaf.RawData),
            _ => _intermediate.Certificate,
        })];

    private static SpiffeIdPattern[]? Authorized(int choice) => choice switch
    {
        0 => null,
        1 => [],
        2 => [SpiffeIdPattern.AnyInTrustDomain(TrustDomain)],
        3 => [SpiffeIdPattern.Parse($"spiffe://{TrustDomain}/a/*"), SpiffeIdPattern.Parse("spiffe://other.test/*")],
        _ => [SpiffeIdPattern.AnyInTrustDomain("other.test")],
    };

    private static byte[] Encode(Name[] names)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var name in names)
            {
                switch (name.Kind)
                {
                    case 0:
                        writer.WriteOctetString(Encoding.Latin1.GetBytes(name.Text), new Asn1Tag(TagClass.ContextSpecific, 6));
                        break;
                    case 1:
                        writer.WriteOctetString(name.Bytes, new Asn1Tag(TagClass.ContextSpecific, 6));
                        break;
                    case 2:
                        writer.WriteOctetString(Encoding.ASCII.GetBytes(name.Text), new Asn1Tag(TagClass.ContextSpecific, 2));
                        break;
                    case 3:
                        writer.WriteOctetString(name.Bytes, new Asn1Tag(TagClass.ContextSpecific, 7));
                        break;
                    default:
                        writer.WriteOctetString(Encoding.ASCII.GetBytes(name.Text), new Asn1Tag(TagClass.ContextSpecific, 1));
                        break;
                }
            }
        }

        return writer.Encode();
    }

    private static string Shorten(string text) => text.Length <= 100 ? text : text[..100];

    private static string Quote(string text) => text.Length > 120
        ? $"<{text.Length} chars starting {Quote(text[..60])}>"
        : "\"" + string.Concat(text.Select(c => c is >= ' ' and < (char)0x7F ? c.ToString() : $"\\u{(int)c:X4}")) + "\"";

    /// <summary>A CA: its certificate and a signature generator for the certificates it issues.</summary>
    private sealed class Authority : IDisposable
    {
        private readonly ECDsa _key;

        private Authority(X509Certificate2 certificate, ECDsa key)
        {
            Certificate = certificate;
            _key = key;
            Generator = X509SignatureGenerator.CreateForECDsa(key);
        }

        public X509Certificate2 Certificate { get; }

        public X509SignatureGenerator Generator { get; }

        public static Authority CreateRoot(string subject, DateTimeOffset notBefore, DateTimeOffset notAfter)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = CaRequest(subject, key);
            return new Authority(request.CreateSelfSigned(notBefore, notAfter), key);
        }

        public Authority CreateIntermediate(string subject, DateTimeOffset notBefore, DateTimeOffset notAfter)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = CaRequest(subject, key);
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
            return new Authority(request.Create(Certificate.SubjectName, Generator, notBefore, notAfter, [7]), key);
        }

        private static CertificateRequest CaRequest(string subject, ECDsa key)
        {
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            return request;
        }

        public void Dispose()
        {
            Certificate.Dispose();
            _key.Dispose();
        }
    }
}
