namespace Mesh.Identity;

/// <summary>Why a peer's X.509-SVID was refused. Each value comes with a message a person can act on
/// (<see cref="X509SvidValidationResult.Message"/>, <see cref="SpiffeAuthenticationException"/>, the server log).</summary>
public enum X509SvidFailureReason
{
    /// <summary>The SVID was accepted.</summary>
    None = 0,

    /// <summary>The peer presented no certificate (for a client: it was configured without an identity).</summary>
    NoCertificate,

    /// <summary>The peer's chain does not lead to a root of the bundle of the peer's trust domain (signed by another CA, or a broken chain).</summary>
    UntrustedIssuer,

    /// <summary>There is no trust bundle for the trust domain in the peer's SPIFFE ID.</summary>
    UnknownTrustDomain,

    /// <summary>The peer's SPIFFE ID is in a trust domain none of the accepted identities belongs to.</summary>
    WrongTrustDomain,

    /// <summary>The peer's certificate (or a CA certificate in its chain) has expired.</summary>
    Expired,

    /// <summary>The peer's certificate (or a CA certificate in its chain) is not valid yet (check clocks).</summary>
    NotYetValid,

    /// <summary>The peer's leaf certificate is a CA certificate (basic constraints CA=true).</summary>
    LeafIsCa,

    /// <summary>The peer's certificate has more than one URI subject alternative name.</summary>
    MultipleUriSans,

    /// <summary>The peer's certificate has no URI subject alternative name.</summary>
    NoUriSan,

    /// <summary>The peer's URI subject alternative name is not a valid SPIFFE ID.</summary>
    InvalidSpiffeId,

    /// <summary>The peer's key usage is missing, not critical, lacks digitalSignature, or allows keyCertSign or cRLSign.</summary>
    BadKeyUsage,

    /// <summary>The peer proved a valid SPIFFE ID that is not one of the accepted identities.</summary>
    NotAuthorized,
}
