namespace Mesh.Identity;

/// <summary>What <see cref="MeshFileIdentitySource"/> does when the private key file is accessible by its group or by
/// others (any of the Unix permission bits <c>0077</c>, as OpenSSH checks its keys). Not checked on Windows.</summary>
public enum KeyFilePermissionCheck
{
    /// <summary>Load the key and log a warning naming the file and its mode (the default).</summary>
    Warn = 0,

    /// <summary>Refuse the key: start-up fails, and a rotation to such a key is rejected (the last good identity is kept).</summary>
    Enforce,

    /// <summary>Do not check (for example when a volume's group permissions are intended).</summary>
    Ignore,
}
