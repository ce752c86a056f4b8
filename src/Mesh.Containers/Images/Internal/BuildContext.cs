using System.Buffers;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Mesh.Containers.Internal;

/// <summary>The files of a build context: collected (honouring .dockerignore), hashed, and tarred.</summary>
internal sealed class BuildContext
{
    private const long InMemoryLimit = 32L * 1024 * 1024;

    private readonly List<Entry> _entries = [];

    /// <summary>One item of the context: a file from disk, in-memory content, or a directory.</summary>
    public sealed record Entry(string ArchivePath, string? SourcePath, byte[]? Content, UnixFileMode Mode, bool IsDirectory = false);

    public IReadOnlyList<Entry> Entries => _entries;

    public void AddFile(string archivePath, string sourcePath, UnixFileMode? mode = null) =>
        _entries.Add(new Entry(archivePath, sourcePath, null, mode ?? ModeOf(sourcePath)));

    public void AddContent(string archivePath, byte[] content, UnixFileMode mode = TarFiles.DefaultFileMode) =>
        _entries.Add(new Entry(archivePath, null, content, mode));

    public void AddDirectory(string archivePath, UnixFileMode mode) =>
        _entries.Add(new Entry(archivePath, null, null, mode, IsDirectory: true));

    /// <summary>Adds every file under <paramref name="directory"/> that <paramref name="ignore"/> does not exclude, in ordinal order.
    /// <paramref name="alwaysInclude"/> names files (relative) sent even when excluded, as the docker CLI does for the Dockerfile and .dockerignore.</summary>
    public void AddDirectoryTree(string directory, DockerIgnore ignore, string archivePrefix = "", IReadOnlySet<string>? alwaysInclude = null, Func<string, bool>? skipDirectory = null)
    {
        var root = Path.GetFullPath(directory);
        var pending = new Stack<string>();
        pending.Push(root);
        var files = new List<string>();
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            foreach (var dir in Directory.EnumerateDirectories(current).Order(StringComparer.Ordinal).Reverse())
            {
                var relative = Relative(root, dir);
                if (skipDirectory?.Invoke(relative) == true)
                {
                    continue;
                }

                if (!ignore.HasNegations && ignore.IsExcluded(relative) && (alwaysInclude is null || !alwaysInclude.Any(a => a.StartsWith(relative + "/", StringComparison.Ordinal))))
                {
                    continue;
                }

                var info = new DirectoryInfo(dir);
                if (info.LinkTarget is not null)
                {
                    continue;
                }

                pending.Push(dir);
            }

            foreach (var file in Directory.EnumerateFiles(current))
            {
                var relative = Relative(root, file);
                if (ignore.IsExcluded(relative) && (alwaysInclude is null || !alwaysInclude.Contains(relative)))
                {
                    continue;
                }

                files.Add(file);
            }
        }

        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            AddFile(archivePrefix + Relative(root, file), file);
        }
    }

    public long TotalSize => _entries.Sum(e => e.Content?.LongLength ?? (e.SourcePath is null ? 0 : new FileInfo(e.SourcePath).Length));

    /// <summary>A SHA-256 over every entry's path, mode and bytes, plus <paramref name="extra"/> (settings that change the image).</summary>
    public string ComputeHash(IEnumerable<string> extra)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }

        Add("mesh-build-context-v1");
        foreach (var value in extra)
        {
            Add(value);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            foreach (var entry in _entries.OrderBy(e => e.ArchivePath, StringComparer.Ordinal))
            {
                Add(entry.ArchivePath);
                Add(((int)entry.Mode).ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (entry.Content is not null)
                {
                    hash.AppendData(entry.Content);
                }
                else if (entry.SourcePath is not null)
                {
                    using var stream = new FileStream(entry.SourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                    int read;
                    while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Writes the context as a tar archive: in memory when small, otherwise to a temporary file deleted on close.</summary>
    public async Task<Stream> CreateArchiveAsync(CancellationToken cancellationToken)
    {
        Stream output = TotalSize <= InMemoryLimit
            ? new MemoryStream()
            : new FileStream(Path.Combine(Path.GetTempPath(), "mesh-context-" + Guid.NewGuid().ToString("N") + ".tar"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var entry in _entries)
                {
                    if (entry.IsDirectory)
                    {
                        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, entry.ArchivePath.TrimEnd('/') + "/") { Mode = entry.Mode, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    var tarEntry = new PaxTarEntry(TarEntryType.RegularFile, entry.ArchivePath) { Mode = entry.Mode, ModificationTime = DateTimeOffset.UnixEpoch };
                    if (entry.Content is not null)
                    {
                        tarEntry.DataStream = new MemoryStream(entry.Content, writable: false);
                        await writer.WriteEntryAsync(tarEntry, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await using var source = new FileStream(entry.SourcePath!, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan | FileOptions.Asynchronous);
                        tarEntry.DataStream = source;
                        await writer.WriteEntryAsync(tarEntry, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            output.Position = 0;
            return output;
        }
        catch
        {
            await output.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    private static UnixFileMode ModeOf(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return TarFiles.DefaultFileMode;
        }

        var mode = File.GetUnixFileMode(path);
        return mode == 0 ? TarFiles.DefaultFileMode : mode;
    }
}
