using BenchmarkDotNet.Attributes;
using Mesh.Identity;
using Mesh.Testing.Identity;

namespace Mesh.Benchmarks.Identity;

/// <summary>
/// The work the mesh adds to each side of a TLS handshake: reading the URI SAN with AsnReader, the leaf checks, a chain
/// build against the peer's trust-domain bundle (CustomRootTrust), and authorization. A handshake runs it twice (client and server).
/// Cold: a validator that has not seen the certificate (chain built); warm: the chain was verified before (cached).
/// </summary>
[MemoryDiagnoser]
public class TlsPeerValidationBenchmarks
{
    private DevelopmentCertificateAuthority _ca = null!;
    private X509Svid _peer = null!;
    private X509BundleSet _bundles = null!;
    private SpiffeIdPattern[] _authorized = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ca = DevelopmentCertificateAuthority.Create("mesh.test");
        _peer = _ca.IssueSvid("spiffe://mesh.test/orders");
        _bundles = _ca.Bundle;
        _authorized = [SpiffeIdPattern.Parse("spiffe://mesh.test/orders")];
    }

    [GlobalCleanup]
    public void Cleanup() => _ca.Dispose();

    private readonly X509SvidValidator _warm = new();

    [Benchmark(Baseline = true, Description = "Validate + authorize one peer X.509-SVID, cold")]
    public bool ValidatePeerCold() => new X509SvidValidator().Validate(_peer.Certificate, null, _bundles, _authorized).IsValid;

    [Benchmark(Description = "Validate + authorize one peer X.509-SVID, warm")]
    public bool ValidatePeer() => _warm.Validate(_peer.Certificate, null, _bundles, _authorized).IsValid;
}
