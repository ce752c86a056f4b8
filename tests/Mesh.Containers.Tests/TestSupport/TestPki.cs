using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Containers.Tests.TestSupport;

/// <summary>Certificates made by the test: a CA, engine (server) and client certificates it issues, written as docker's
/// <c>ca.pem</c>, <c>cert.pem</c>, <c>key.pem</c>.</summary>
internal static class TestPki
{
    private static readonly Lazy<string> s_root = new(() => Directory.CreateTempSubdirectory("mesh-tests-tls-").FullName);

    /// <summary>Removes every directory <see cref="WriteCertificateDirectory"/> made (at the end of the test run).</summary>
    public static void DeleteDirectories()
    {
        if (s_root.IsValueCreated && Directory.Exists(s_root.Value))
        {
            Directory.Delete(s_root.Value, recursive: true);
        }
    }

    public static X509Certificate2 CreateCa(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddYears(-2), notAfter ?? DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>An engine certificate for the given IP addresses (and <c>localhost</c>).</summary>
    public static X509Certificate2 IssueServer(X509Certificate2 ca, IEnumerable<IPAddress> addresses, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }

        return Issue(ca, "CN=engine", "1.3.6.1.5.5.7.3.1", names.Build(), notBefore, notAfter);
    }

    public static X509Certificate2 IssueClient(X509Certificate2 ca, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Issue(ca, "CN=mesh-tests-client", "1.3.6.1.5.5.7.3.2", null, notBefore, notAfter);

    /// <summary>Writes <c>ca.pem</c>, and <c>cert.pem</c> + <c>key.pem</c> when a client certificate is given, into a new directory.</summary>
    public static string WriteCertificateDirectory(X509Certificate2? ca, X509Certificate2? client, string? directory = null)
    {
        directory ??= Path.Combine(s_root.Value, Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        if (ca is not null)
        {
            File.WriteAllText(Path.Combine(directory, "ca.pem"), ca.ExportCertificatePem());
        }

        if (client is not null)
        {
            File.WriteAllText(Path.Combine(directory, "cert.pem"), client.ExportCertificatePem());
            using var key = client.GetECDsaPrivateKey()!;
            File.WriteAllText(Path.Combine(directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        }

        return directory;
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, string usage, X509Extension? names, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (names is not null)
        {
            request.CertificateExtensions.Add(names);
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca, notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(1), serial);
        return issued.CopyWithPrivateKey(key);
    }
}
