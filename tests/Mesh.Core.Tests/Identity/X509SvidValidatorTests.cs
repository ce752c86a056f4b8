using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Mesh.Testing.Identity;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Tests.Identity;

public sealed class X509SvidValidatorTests : IDisposable
{
    private readonly DevelopmentCertificateAuthority _ca = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly DevelopmentCertificateAuthority _otherCa = DevelopmentCertificateAuthority.Create("mesh.test");
    private readonly DevelopmentCertificateAuthority _otherDomainCa = DevelopmentCertificateAuthority.Create("other.test");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        _otherDomainCa.Dispose();
    }

    private static SpiffeIdPattern[] Accept(string pattern) => [SpiffeIdPattern.Parse(pattern)];

    private X509SvidValidationResult Validate(X509Certificate2? certificate, IReadOnlyList<SpiffeIdPattern>? authorized = null, X509BundleSet? bundles = null) =>
        X509SvidValidator.Default.Validate(certificate, null, bundles ?? _ca.Bundle, authorized);

    [Fact]
    public void Valid_svid_is_accepted_with_its_id()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");

        var result = Validate(svid.Certificate);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(X509SvidFailureReason.None, result.Reason);
        Assert.Equal(SpiffeId.Parse("spiffe://mesh.test/catalog"), result.PeerId);
        Assert.Equal("spiffe://mesh.test/catalog", result.PresentedIdentity);
    }

    [Fact]
    public void Missing_certificate_is_refused_as_no_certificate()
    {
        Assert.Equal(X509SvidFailureReason.NoCertificate, Validate(null).Reason);
    }

    [Fact]
    public void Certificate_without_uri_san_is_refused_as_no_uri_san()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest());

        Assert.Equal(X509SvidFailureReason.NoUriSan, Validate(certificate).Reason);
    }

    [Fact]
    public void Certificate_with_two_uri_sans_is_refused_as_multiple_uri_sans_naming_both()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog", "spiffe://mesh.test/admin"));

        var result = Validate(certificate);

        Assert.Equal(X509SvidFailureReason.MultipleUriSans, result.Reason);
        Assert.Contains("spiffe://mesh.test/catalog", result.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/admin", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://mesh.test/catalog")]
    [InlineData("spiffe://Mesh.test/catalog")]
    [InlineData("spiffe://mesh.test/catalog/")]
    [InlineData("spiffe://mesh.test/a%2Fb")]
    public void Uri_san_that_is_not_a_spiffe_id_is_refused_as_invalid_spiffe_id(string uri)
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest(uri));

        var result = Validate(certificate);

        Assert.Equal(X509SvidFailureReason.InvalidSpiffeId, result.Reason);
        Assert.Equal(uri, result.PresentedIdentity);
    }

    [Fact]
    public void Leaf_marked_ca_is_refused_as_leaf_is_ca()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { IsCertificateAuthority = true });

        Assert.Equal(X509SvidFailureReason.LeafIsCa, Validate(certificate).Reason);
    }

    [Fact]
    public void Leaf_without_key_usage_is_refused_as_bad_key_usage()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { KeyUsage = null });

        Assert.Equal(X509SvidFailureReason.BadKeyUsage, Validate(certificate).Reason);
    }

    [Fact]
    public void Leaf_with_non_critical_key_usage_is_refused_as_bad_key_usage()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { KeyUsageCritical = false });

        Assert.Equal(X509SvidFailureReason.BadKeyUsage, Validate(certificate).Reason);
    }

    [Fact]
    public void Leaf_without_digital_signature_is_refused_as_bad_key_usage()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { KeyUsage = X509KeyUsageFlags.KeyEncipherment });

        Assert.Equal(X509SvidFailureReason.BadKeyUsage, Validate(certificate).Reason);
    }

    [Theory]
    [InlineData(X509KeyUsageFlags.KeyCertSign)]
    [InlineData(X509KeyUsageFlags.CrlSign)]
    public void Leaf_allowed_to_sign_certificates_or_crls_is_refused_as_bad_key_usage(X509KeyUsageFlags extra)
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { KeyUsage = X509KeyUsageFlags.DigitalSignature | extra });

        Assert.Equal(X509SvidFailureReason.BadKeyUsage, Validate(certificate).Reason);
    }

    [Fact]
    public void Svid_signed_by_another_ca_is_refused_as_untrusted_issuer()
    {
        var svid = _otherCa.IssueSvid("spiffe://mesh.test/catalog");

        var result = Validate(svid.Certificate);

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, result.Reason);
        Assert.Equal(SpiffeId.Parse("spiffe://mesh.test/catalog"), result.PeerId);
    }

    [Fact]
    public void Svid_of_a_trust_domain_without_bundle_is_refused_as_unknown_trust_domain()
    {
        var svid = _otherDomainCa.IssueSvid("spiffe://other.test/catalog");

        var result = Validate(svid.Certificate);

        Assert.Equal(X509SvidFailureReason.UnknownTrustDomain, result.Reason);
        Assert.Contains("other.test", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Svid_is_checked_only_against_the_bundle_of_its_own_trust_domain_never_a_merged_pool()
    {
        // Both roots are trusted, but each only for its own trust domain: mesh.test's CA cannot vouch for other.test.
        var bundles = _ca.Bundle.With("other.test", [_otherDomainCa.RootCertificate]);
        var forged = _ca.IssueSvid("spiffe://other.test/catalog");

        var result = X509SvidValidator.Default.Validate(forged.Certificate, null, bundles);

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, result.Reason);
    }

    [Fact]
    public void Svid_of_a_federated_trust_domain_is_accepted_with_that_domains_bundle()
    {
        var bundles = _ca.Bundle.With("other.test", [_otherDomainCa.RootCertificate]);
        var svid = _otherDomainCa.IssueSvid("spiffe://other.test/catalog");

        Assert.True(X509SvidValidator.Default.Validate(svid.Certificate, null, bundles).IsValid);
    }

    [Fact]
    public void Expired_svid_is_refused_as_expired_with_the_expiry_time()
    {
        var now = DateTimeOffset.UtcNow;
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { NotBefore = now.AddHours(-2), Lifetime = TimeSpan.FromHours(1) });

        var result = Validate(certificate);

        Assert.Equal(X509SvidFailureReason.Expired, result.Reason);
        Assert.Contains("expired at", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Svid_not_valid_yet_is_refused_as_not_yet_valid()
    {
        var certificate = _ca.IssueCertificate(new DevelopmentCertificateRequest("spiffe://mesh.test/catalog") { NotBefore = DateTimeOffset.UtcNow.AddHours(1) });

        Assert.Equal(X509SvidFailureReason.NotYetValid, Validate(certificate).Reason);
    }

    [Fact]
    public void Validity_is_checked_against_the_given_clock()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog", TimeSpan.FromMinutes(10));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var validator = new X509SvidValidator(clock);

        var before = validator.Validate(svid.Certificate, null, _ca.Bundle);
        clock.Advance(TimeSpan.FromMinutes(15));
        var after = validator.Validate(svid.Certificate, null, _ca.Bundle);

        Assert.True(before.IsValid, before.Message);
        Assert.Equal(X509SvidFailureReason.Expired, after.Reason);
    }

    [Fact]
    public void Svid_issued_by_an_intermediate_is_accepted_when_the_intermediate_is_sent()
    {
        using var intermediate = _ca.CreateIntermediate();
        var svid = intermediate.IssueSvid("spiffe://mesh.test/catalog");

        var result = X509SvidValidator.Default.Validate(svid.Certificate, svid.Intermediates, _ca.Bundle);

        Assert.True(result.IsValid, result.Message);
    }

    [Fact]
    public void Svid_issued_by_an_intermediate_is_refused_when_the_intermediate_is_missing()
    {
        using var intermediate = _ca.CreateIntermediate();
        var svid = intermediate.IssueSvid("spiffe://mesh.test/catalog");

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, X509SvidValidator.Default.Validate(svid.Certificate, null, _ca.Bundle).Reason);
    }

    [Fact]
    public void Authorized_id_is_accepted()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/ns/shop/catalog");

        Assert.True(Validate(svid.Certificate, Accept("spiffe://mesh.test/ns/shop/*")).IsValid);
    }

    [Fact]
    public void Unauthorized_id_is_refused_as_not_authorized_naming_presented_and_accepted_identities()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/orders");

        var result = Validate(svid.Certificate, Accept("spiffe://mesh.test/catalog"));

        Assert.Equal(X509SvidFailureReason.NotAuthorized, result.Reason);
        Assert.Contains("spiffe://mesh.test/orders", result.Message, StringComparison.Ordinal);
        Assert.Contains("spiffe://mesh.test/catalog", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Id_of_another_trust_domain_than_the_accepted_ones_is_refused_as_wrong_trust_domain()
    {
        var svid = _ca.IssueSvid("spiffe://other.test/catalog");

        var result = Validate(svid.Certificate, Accept("spiffe://mesh.test/catalog"));

        Assert.Equal(X509SvidFailureReason.WrongTrustDomain, result.Reason);
        Assert.Contains("other.test", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Untrusted_svid_is_refused_as_untrusted_even_when_its_id_is_authorized()
    {
        var svid = _otherCa.IssueSvid("spiffe://mesh.test/catalog");

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, Validate(svid.Certificate, Accept("spiffe://mesh.test/catalog")).Reason);
    }

    [Fact]
    public void Remembered_chain_is_not_trusted_beyond_its_expiry()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog", TimeSpan.FromMinutes(10));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var validator = new X509SvidValidator(clock);
        var bundles = _ca.Bundle;

        Assert.True(validator.Validate(svid.Certificate, null, bundles).IsValid);
        Assert.True(validator.Validate(svid.Certificate, null, bundles).IsValid);
        clock.Advance(TimeSpan.FromMinutes(15));

        Assert.Equal(X509SvidFailureReason.Expired, validator.Validate(svid.Certificate, null, bundles).Reason);
    }

    [Fact]
    public void Remembered_chain_is_checked_again_against_a_new_bundle_set()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/catalog");
        var validator = new X509SvidValidator();
        var bundles = _ca.Bundle;
        Assert.True(validator.Validate(svid.Certificate, null, bundles).IsValid);

        var rotated = X509BundleSet.Create("mesh.test", [_otherCa.RootCertificate]);

        Assert.Equal(X509SvidFailureReason.UntrustedIssuer, validator.Validate(svid.Certificate, null, rotated).Reason);
    }

    [Fact]
    public void Remembered_chain_still_goes_through_authorization()
    {
        var svid = _ca.IssueSvid("spiffe://mesh.test/orders");
        var validator = new X509SvidValidator();
        var bundles = _ca.Bundle;

        Assert.True(validator.Validate(svid.Certificate, null, bundles, Accept("spiffe://mesh.test/orders")).IsValid);

        Assert.Equal(X509SvidFailureReason.NotAuthorized, validator.Validate(svid.Certificate, null, bundles, Accept("spiffe://mesh.test/catalog")).Reason);
    }
}
