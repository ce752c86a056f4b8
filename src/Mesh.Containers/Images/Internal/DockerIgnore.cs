using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Mesh.Containers.Internal;

/// <summary>
/// <c>.dockerignore</c> matching with the engine's semantics (moby/patternmatcher): patterns are anchored at the context
/// root, <c>*</c> and <c>?</c> stop at <c>/</c>, <c>**</c> spans directories, a pattern that matches a directory excludes
/// everything below it, <c>!</c> re-includes, and the last matching pattern wins. Comment lines start with <c>#</c>.
/// Patterns the engine refuses (Go's filepath.Match syntax) are refused with <see cref="DockerImageBuildException"/>.
/// Matching is linear in the length of the path (a non-backtracking regex), whatever the pattern.
/// </summary>
internal sealed class DockerIgnore
{
    private readonly List<(Regex Regex, bool Negated, string Text)> _patterns = [];

    /// <summary>Reads the lines of a <c>.dockerignore</c> file.</summary>
    /// <exception cref="DockerImageBuildException">A line holds a pattern the engine refuses too (a malformed character
    /// class, a trailing <c>\</c>, a lone <c>!</c>); the message names the line.</exception>
    public DockerIgnore(IEnumerable<string> lines)
    {
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            // As moby's ReadAll: a comment is a line that starts with '#', checked before trimming.
            if (raw.StartsWith('#'))
            {
                continue;
            }

            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var negated = line.StartsWith('!');
            if (negated)
            {
                line = line[1..].Trim();
                if (line.Length == 0)
                {
                    throw Malformed(number, raw, "'!' alone re-includes nothing", "illegal exclusion pattern: \"!\"");
                }
            }

            line = Clean(line);
            if (line.Length == 0)
            {
                continue;
            }

            if (!TryTranslate(line, out var regex, out var problem))
            {
                throw Malformed(number, raw, problem, "syntax error in pattern");
            }

            if (MinimumMatchLength(line) > MaxPathLength)
            {
                continue; // longer than any path can be: it matches nothing (and would only cost memory)
            }

            _patterns.Add((Compile(regex), negated, line));
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
    /// <exception cref="DockerImageBuildException">A pattern of thousands of characters took longer than a second on this path.</exception>
    public bool IsExcluded(string relativePath)
    {
        var path = relativePath.Replace('\\', '/').Trim('/');
        var excluded = false;
        foreach (var (regex, negated, text) in _patterns)
        {
            if (excluded == !negated)
            {
                // This pattern cannot change the outcome.
                continue;
            }

            bool matches;
            try
            {
                matches = MatchesOrParentMatches(regex, path);
            }
            catch (RegexMatchTimeoutException e)
            {
                throw new DockerImageBuildException(
                    $".dockerignore pattern '{Shorten(text)}' took longer than {s_matchTimeout.TotalSeconds:0} s to match '{Shorten(path)}'; simplify the pattern.",
                    null, "pattern too complex", [], e);
            }

            if (matches)
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

    /// <summary>Linux's PATH_MAX: no path in a build context is longer.</summary>
    private const int MaxPathLength = 4096;

    /// <summary>How long one pattern may take on one path with the backtracking fallback of <see cref="Compile"/>.</summary>
    private static readonly TimeSpan s_matchTimeout = TimeSpan.FromSeconds(1);

    /// <summary>A non-backtracking regex, whose matching time is linear in the path whatever the pattern; for the rare
    /// pattern too large for that engine (thousands of characters), a backtracking one bounded by a timeout.</summary>
    private static Regex Compile(string regex)
    {
        try
        {
            return new Regex(regex, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            return new Regex(regex, RegexOptions.CultureInvariant, s_matchTimeout);
        }
    }

    /// <summary>The fewest characters a path needs to match <paramref name="pattern"/>: every token but a star takes one.</summary>
    private static int MinimumMatchLength(string pattern)
    {
        var length = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '*':
                    break;
                case '\\':
                    i++;
                    length++;
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 2);
                    i = close < 0 ? pattern.Length : close;
                    length++;
                    break;
                default:
                    length++;
                    break;
            }
        }

        return length;
    }

    private static DockerImageBuildException Malformed(int number, string raw, string problem, string engineMessage)
    {
        return new DockerImageBuildException(
            $".dockerignore line {number}: '{Shorten(raw.Trim())}' is not a valid pattern: {problem}. The engine refuses it too ({engineMessage}); fix or remove the line.",
            null, engineMessage, []);
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 197), "...");

    /// <summary>filepath.Clean, then the leading '/' dropped (as moby's ReadAll does).</summary>
    private static string Clean(string pattern)
    {
        var rooted = pattern.StartsWith('/');
        var segments = new List<string>();
        foreach (var segment in pattern.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0 && segments[^1] != "..")
                {
                    segments.RemoveAt(segments.Count - 1);
                    continue;
                }

                if (rooted)
                {
                    continue; // "/.." is "/"
                }
            }

            segments.Add(segment);
        }

        return string.Join('/', segments);
    }

    /// <summary>Translates a pattern the way moby's pattern matcher does, refusing what Go's filepath.Match (which the
    /// engine runs on every pattern first) or its regexp compiler refuse.</summary>
    private static bool TryTranslate(string pattern, out string regex, out string problem)
    {
        var sb = new StringBuilder("^");
        regex = "";
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
                    if (!TryTranslateClass(pattern, ref i, sb, out problem))
                    {
                        return false;
                    }

                    break;
                case '\\':
                    if (i + 1 >= pattern.Length)
                    {
                        problem = "it ends with '\\', which escapes nothing";
                        return false;
                    }

                    i++;
                    sb.Append(Regex.Escape(pattern[i].ToString()));
                    break;
                default:
                    sb.Append(Regex.Escape(ch.ToString()));
                    break;
            }
        }

        regex = sb.Append('$').ToString();
        problem = "";
        return true;
    }

    /// <summary>A character class from <c>[</c> at <paramref name="i"/>: an optional <c>^</c>, then characters and
    /// ranges (<c>\</c> escapes one character), closed by <c>]</c> after at least one; Go's filepath.Match rules.</summary>
    private static bool TryTranslateClass(string pattern, ref int i, StringBuilder sb, out string problem)
    {
        var start = i;
        var j = i + 1;
        var negated = j < pattern.Length && pattern[j] == '^';
        if (negated)
        {
            j++;
        }

        var body = new StringBuilder();
        var ranges = 0;
        while (true)
        {
            if (j >= pattern.Length)
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"the '[' at position {start + 1} is not closed by ']'");
                return false;
            }

            if (pattern[j] == ']')
            {
                if (ranges > 0)
                {
                    break;
                }

                problem = string.Create(CultureInfo.InvariantCulture, $"the character class at position {start + 1} is empty");
                return false;
            }

            if (!TryClassChar(pattern, ref j, out var lo))
            {
                problem = ClassProblem(pattern, j, start);
                return false;
            }

            var hi = lo;
            if (j < pattern.Length && pattern[j] == '-')
            {
                j++;
                if (!TryClassChar(pattern, ref j, out hi))
                {
                    problem = ClassProblem(pattern, j, start);
                    return false;
                }

                if (hi < lo)
                {
                    problem = string.Create(CultureInfo.InvariantCulture, $"the character class at position {start + 1} has the range '{lo}-{hi}', whose start is above its end");
                    return false;
                }
            }

            body.Append(EscapeInClass(lo));
            if (hi != lo)
            {
                body.Append('-').Append(EscapeInClass(hi));
            }

            ranges++;
        }

        sb.Append('[').Append(negated ? "^" : "").Append(body).Append(']');
        i = j;
        problem = "";
        return true;
    }

    private static string ClassProblem(string pattern, int j, int start) => j >= pattern.Length
        ? string.Create(CultureInfo.InvariantCulture, $"the '[' at position {start + 1} is not closed by ']'")
        : string.Create(CultureInfo.InvariantCulture, $"the character class at position {start + 1} has a range without a start or an end");

    /// <summary>Go's getEsc: one class character, <c>\</c>-escaped or not; never an unescaped '-' or ']', and never the end.</summary>
    private static bool TryClassChar(string pattern, ref int j, out char c)
    {
        c = '\0';
        if (j >= pattern.Length || pattern[j] is '-' or ']')
        {
            return false;
        }

        if (pattern[j] == '\\')
        {
            j++;
            if (j >= pattern.Length)
            {
                return false;
            }
        }

        c = pattern[j];
        j++;
        return j < pattern.Length;
    }

    private static string EscapeInClass(char c) => char.IsAsciiLetterOrDigit(c)
        ? c.ToString()
        : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"); // always literal inside a class, whatever c is
}
