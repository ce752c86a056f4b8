using System.Text.RegularExpressions;

namespace Mesh.Containers.Internal;

/// <summary>Finds the shared libraries (and the dynamic loader) that native files need, with <c>ldd</c>,
/// so they can be copied into a FROM scratch image.</summary>
internal static partial class NativeLibraryCollector
{
    /// <summary>Libraries loaded with dlopen by .NET rather than linked, which ldd cannot see.</summary>
    public static readonly string[] DlopenedLibraries = ["libssl.so.3", "libcrypto.so.3"];

    private static readonly string[] s_libraryDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    /// <summary>Returns the absolute paths of every library the given files need, plus the dlopened ones found on this machine.</summary>
    public static async Task<IReadOnlyCollection<string>> CollectAsync(IEnumerable<string> nativeFiles, CancellationToken cancellationToken)
    {
        var ldd = FindLdd() ?? throw new FileNotFoundException(
            "'ldd' was not found (it comes with the C library: Debian package libc-bin); it is needed to find the native libraries of a .NET image.");
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(nativeFiles);
        foreach (var name in DlopenedLibraries)
        {
            if (FindLibrary(name) is { } path)
            {
                found.Add(path);
                queue.Enqueue(path);
            }
        }

        var examined = new HashSet<string>(StringComparer.Ordinal);
        while (queue.Count > 0 && examined.Count < 1000)
        {
            var file = queue.Dequeue();
            if (!examined.Add(file))
            {
                continue;
            }

            var result = await ProcessRunner.RunAsync(ldd, [file], null, null, null, cancellationToken).ConfigureAwait(false);
            foreach (var line in result.Output)
            {
                var match = LddLine().Match(line);
                if (!match.Success)
                {
                    continue;
                }

                var path = match.Groups["path"].Value;
                if (path.StartsWith('/') && File.Exists(path) && found.Add(path))
                {
                    queue.Enqueue(path);
                }
            }
        }

        return found;
    }

    public static string? FindLibrary(string name) =>
        s_libraryDirectories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string? FindLdd() =>
        new[] { "/usr/bin/ldd", "/bin/ldd" }.FirstOrDefault(File.Exists);

    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    [GeneratedRegex(@"^\s*(?:\S+\s+=>\s+)?(?<path>/\S+)\s+\(0x[0-9a-fA-F]+\)\s*$")]
    private static partial Regex LddLine();
}
