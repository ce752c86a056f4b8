using System.Text;
using System.Text.RegularExpressions;

namespace Mesh.Containers.Internal;

/// <summary>
/// <c>.dockerignore</c> matching with the engine's semantics (moby/patternmatcher): patterns are anchored at the context
/// root, <c>*</c> and <c>?</c> stop at <c>/</c>, <c>**</c> spans directories, a pattern that matches a directory excludes
/// everything below it, <c>!</c> re-includes, and the last matching pattern wins. Comment lines start with <c>#</c>.
/// </summary>
internal sealed class DockerIgnore
{
    private readonly List<(Regex Regex, bool Negated, string Text)> _patterns = [];

    public DockerIgnore(IEnumerable<string> lines)
    {
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var negated = line.StartsWith('!');
            if (negated)
            {
                line = line[1..].Trim();
            }

            line = Clean(line);
            if (line.Length == 0)
            {
                continue;
            }

            _patterns.Add((new Regex(ToRegex(line), RegexOptions.CultureInvariant | RegexOptions.Compiled), negated, line));
        }
    }

    public static DockerIgnore Empty { get; } = new([]);

    public bool HasNegations => _patterns.Exists(p => p.Negated);

    public bool IsEmpty => _patterns.Count == 0;

    public static DockerIgnore Load(string contextDirectory)
    {
        var path = Path.Combine(contextDirectory, ".dockerignore");
        return File.Exists(path) ? new DockerIgnore(File.ReadAllLines(path)) : Empty;
    }

    /// <summary>Whether <paramref name="relativePath"/> (with <c>/</c> separators) is excluded from the context.</summary>
    public bool IsExcluded(string relativePath)
    {
        var path = relativePath.Replace('\\', '/').Trim('/');
        var excluded = false;
        foreach (var (regex, negated, _) in _patterns)
        {
            if (excluded == !negated)
            {
                // This pattern cannot change the outcome.
                continue;
            }

            if (MatchesOrParentMatches(regex, path))
            {
                excluded = !negated;
            }
        }

        return excluded;
    }

    private static bool MatchesOrParentMatches(Regex regex, string path)
    {
        if (regex.IsMatch(path))
        {
            return true;
        }

        for (var slash = path.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            if (regex.IsMatch(path.AsSpan(0, slash)))
            {
                return true;
            }
        }

        return false;
    }

    private static string Clean(string pattern)
    {
        var segments = new List<string>();
        foreach (var segment in pattern.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == ".." && segments.Count > 0 && segments[^1] != "..")
            {
                segments.RemoveAt(segments.Count - 1);
                continue;
            }

            segments.Add(segment);
        }

        return string.Join('/', segments);
    }

    private static string ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var ch = pattern[i];
            switch (ch)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    i++;
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                    {
                        i++;
                    }

                    sb.Append(i + 1 >= pattern.Length ? ".*" : "(.*/)?");
                    break;
                case '*':
                    sb.Append("[^/]*");
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 1);
                    if (close < 0)
                    {
                        sb.Append(@"\[");
                        break;
                    }

                    var body = pattern[(i + 1)..close];
                    sb.Append('[').Append(body.StartsWith('^') ? "^" + body[1..].Replace(@"\", @"\\", StringComparison.Ordinal) : body.Replace(@"\", @"\\", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                case '\\' when i + 1 < pattern.Length:
                    i++;
                    sb.Append(Regex.Escape(pattern[i].ToString()));
                    break;
                default:
                    sb.Append(Regex.Escape(ch.ToString()));
                    break;
            }
        }

        return sb.Append('$').ToString();
    }
}
