using Mesh.Testing.Identity;

// Issues short-lived X.509-SVIDs from a fresh development CA for the sample services and writes them as PEM files
// (svid.pem, svid.key, bundle.pem per service) — what cert-manager or a SPIFFE helper would put on disk.
// Usage: dotnet run --project samples/Mesh.DevCerts -- [directory, default samples/certs] [trust domain, default mesh.test]
var directory = args.Length > 0 ? args[0] : Path.Combine("samples", "certs");
var trustDomain = args.Length > 1 ? args[1] : "mesh.test";
using var ca = DevelopmentCertificateAuthority.Create(trustDomain, lifetime: TimeSpan.FromDays(7));
foreach (var service in new[] { "catalog", "storefront", "gateway" })
{
    var svid = ca.IssueSvid($"spiffe://{trustDomain}/{service}", TimeSpan.FromDays(7));
    var written = ca.WriteIdentityFiles(svid, Path.Combine(directory, service));
    Console.WriteLine($"{svid.Id}: {written.CertificatePath}, {written.KeyPath}, {written.TrustBundlePath} (expires {svid.NotAfter:u})");
}
