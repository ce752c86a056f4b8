using System.Formats.Tar;

namespace Mesh.Containers.Internal;

/// <summary>Builds small in-memory tar archives of files to copy into containers.</summary>
internal static class TarFiles
{
    public const UnixFileMode DefaultFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Writes the files (absolute container paths) into a tar archive rooted at <c>/</c>.</summary>
    public static MemoryStream Create(IEnumerable<(string Path, ReadOnlyMemory<byte> Content, UnixFileMode Mode)> files)
    {
        var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            var directories = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (path, content, mode) in files)
            {
                var relative = ToRelative(path);
                var parent = System.IO.Path.GetDirectoryName(relative)?.Replace('\\', '/');
                var chain = new Stack<string>();
                while (!string.IsNullOrEmpty(parent) && directories.Add(parent))
                {
                    chain.Push(parent);
                    parent = System.IO.Path.GetDirectoryName(parent)?.Replace('\\', '/');
                }

                foreach (var directory in chain)
                {
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory + "/")
                    {
                        Mode = DefaultFileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
                        ModificationTime = DateTimeOffset.UnixEpoch,
                    });
                }

                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, relative)
                {
                    Mode = mode == 0 ? DefaultFileMode : mode,
                    ModificationTime = DateTimeOffset.UnixEpoch,
                    DataStream = new MemoryStream(content.ToArray(), writable: false),
                });
            }
        }

        output.Position = 0;
        return output;
    }

    public static string ToRelative(string containerPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        if (!containerPath.StartsWith('/'))
        {
            throw new ArgumentException($"'{containerPath}' is not an absolute container path; expected for example /www/index.html.", nameof(containerPath));
        }

        var relative = containerPath.TrimStart('/');
        if (relative.Length == 0 || relative.EndsWith('/') || relative.Split('/').Any(s => s is "" or "." or ".."))
        {
            throw new ArgumentException($"'{containerPath}' is not a file path; expected for example /www/index.html (no empty, '.' or '..' segments).", nameof(containerPath));
        }

        return relative;
    }
}
