using System.Runtime.CompilerServices;
using System.Text;
using Docker.DotNet;

namespace Mesh.Containers.Internal;

/// <summary>Splits a (multiplexed) engine output stream into lines per stream, as they arrive.</summary>
internal static class LogLineReader
{
    private const int MaxLineLength = 64 * 1024;

    public static async IAsyncEnumerable<DockerLogLine> ReadLinesAsync(MultiplexedStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var stdout = new LineBuilder(DockerLogStream.StandardOutput);
        var stderr = new LineBuilder(DockerLogStream.StandardError);
        var lines = new List<DockerLogLine>();
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
            if (read.EOF)
            {
                break;
            }

            var builder = read.Target == MultiplexedStream.TargetStream.StandardError ? stderr : stdout;
            builder.Append(buffer.AsSpan(0, read.Count), lines);
            foreach (var line in lines)
            {
                yield return line;
            }

            lines.Clear();
        }

        if (stdout.Flush() is { } lastOut)
        {
            yield return lastOut;
        }

        if (stderr.Flush() is { } lastErr)
        {
            yield return lastErr;
        }
    }

    private sealed class LineBuilder(DockerLogStream stream)
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _pending = new();
        private char[] _chars = new char[8192];

        public void Append(ReadOnlySpan<byte> bytes, List<DockerLogLine> lines)
        {
            var needed = _decoder.GetCharCount(bytes, flush: false);
            if (_chars.Length < needed)
            {
                _chars = new char[needed];
            }

            var count = _decoder.GetChars(bytes, _chars, flush: false);
            var span = _chars.AsSpan(0, count);
            while (true)
            {
                var newline = span.IndexOf('\n');
                if (newline < 0)
                {
                    _pending.Append(span);
                    if (_pending.Length > MaxLineLength)
                    {
                        lines.Add(new DockerLogLine(stream, _pending.ToString()));
                        _pending.Clear();
                    }

                    return;
                }

                _pending.Append(span[..newline]);
                if (_pending.Length > 0 && _pending[^1] == '\r')
                {
                    _pending.Length--;
                }

                lines.Add(new DockerLogLine(stream, _pending.ToString()));
                _pending.Clear();
                span = span[(newline + 1)..];
            }
        }

        public DockerLogLine? Flush()
        {
            if (_pending.Length == 0)
            {
                return null;
            }

            var line = new DockerLogLine(stream, _pending.ToString());
            _pending.Clear();
            return line;
        }
    }
}
