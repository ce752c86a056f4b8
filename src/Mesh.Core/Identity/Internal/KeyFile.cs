using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Mesh.Identity.Internal;

/// <summary>Reads a private key file together with its Unix permissions, from one open handle (so the mode checked is the
/// mode of the bytes read, also behind symbolic links such as Kubernetes' <c>..data</c>).</summary>
internal static class KeyFile
{
    /// <summary>The bits OpenSSH refuses on a private key: any permission for the group or for others (<c>0077</c>).</summary>
    public const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Reads the file; <paramref name="exposedMode"/> is its mode when group or others have any access to it
    /// (never on Windows, where Unix modes do not apply).</summary>
    public static byte[] Read(string path, out UnixFileMode? exposedMode)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        exposedMode = OperatingSystem.IsWindows() ? null : Exposed(handle);
        var length = RandomAccess.GetLength(handle);
        if (length > 1024 * 1024)
        {
            throw new IOException($"{path} is {length.ToString(CultureInfo.InvariantCulture)} bytes long; a PEM private key is a few kilobytes.");
        }

        var bytes = new byte[length];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                // Truncated while reading (mid-rotation): return what was read; the next event or poll reads it again.
                var partial = bytes.AsSpan(0, read).ToArray();
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
                return partial;
            }

            read += n;
        }

        return bytes;
    }

    /// <summary>The mode as <c>chmod</c> writes it, such as <c>0644</c>.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static UnixFileMode? Exposed(SafeFileHandle handle)
    {
        var mode = File.GetUnixFileMode(handle);
        return (mode & GroupOrOthers) != 0 ? mode : null;
    }
}
