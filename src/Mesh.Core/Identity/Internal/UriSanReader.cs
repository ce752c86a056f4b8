using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity.Internal;

/// <summary>Reads the URI names of a certificate's subjectAltName extension with <see cref="AsnReader"/>
/// (the BCL enumerates DNS names and IP addresses, not URIs).</summary>
internal static class UriSanReader
{
    private const string SubjectAltNameOid = "2.5.29.17";
    private static readonly Asn1Tag s_uniformResourceIdentifier = new(TagClass.ContextSpecific, 6);

    /// <summary>Reads every URI SAN of <paramref name="certificate"/>.</summary>
    /// <returns><see langword="false"/> when the extension is malformed.</returns>
    public static bool TryRead(X509Certificate2 certificate, out List<string> uris)
    {
        uris = [];
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
            {
                continue;
            }

            try
            {
                ReadGeneralNames(extension.RawData, uris);
            }
            catch (AsnContentException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName, keeping uniformResourceIdentifier [6] IA5String.</summary>
    private static void ReadGeneralNames(byte[] der, List<string> uris)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER);
        var names = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.HasSameClassAndValue(s_uniformResourceIdentifier))
            {
                uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, s_uniformResourceIdentifier));
            }
            else
            {
                names.ReadEncodedValue();
            }
        }
    }
}
