namespace Mesh.Identity;

/// <summary>The outcome of validating a peer's X.509-SVID with <see cref="X509SvidValidator"/>.</summary>
public sealed class X509SvidValidationResult
{
    internal X509SvidValidationResult(X509SvidFailureReason reason, string message, SpiffeId? peerId, string? presentedIdentity)
    {
        Reason = reason;
        Message = message;
        PeerId = peerId;
        PresentedIdentity = presentedIdentity;
    }

    /// <summary>Whether the SVID was accepted.</summary>
    public bool IsValid => Reason == X509SvidFailureReason.None;

    /// <summary>Why the SVID was refused, or <see cref="X509SvidFailureReason.None"/>.</summary>
    public X509SvidFailureReason Reason { get; }

    /// <summary>What happened and what to do about it, naming the identities involved (never key material).</summary>
    public string Message { get; }

    /// <summary>The peer's SPIFFE ID when it could be read from the certificate (also on most refusals); verified only when <see cref="IsValid"/>.</summary>
    public SpiffeId? PeerId { get; }

    /// <summary>The URI subject alternative name(s) the peer presented, as text (comma separated when several), or <see langword="null"/> when none.</summary>
    public string? PresentedIdentity { get; }

    /// <inheritdoc />
    public override string ToString() => IsValid ? $"Valid: {PeerId}" : $"{Reason}: {Message}";
}
