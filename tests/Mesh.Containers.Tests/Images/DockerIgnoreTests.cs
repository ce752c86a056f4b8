using Mesh.Containers.Internal;

namespace Mesh.Containers.Tests.Images;

public sealed class DockerIgnoreTests
{
    [Fact]
    public void Patterns_are_anchored_at_the_context_root()
    {
        var ignore = new DockerIgnore(["secret.txt"]);

        Assert.True(ignore.IsExcluded("secret.txt"));
        Assert.False(ignore.IsExcluded("sub/secret.txt"));
    }

    [Fact]
    public void A_single_star_does_not_cross_directories()
    {
        var ignore = new DockerIgnore(["*/temp*"]);

        Assert.True(ignore.IsExcluded("a/temporary.txt"));
        Assert.False(ignore.IsExcluded("a/b/temporary.txt"));
    }

    [Fact]
    public void A_double_star_spans_any_number_of_directories()
    {
        var ignore = new DockerIgnore(["**/*.log"]);

        Assert.True(ignore.IsExcluded("app.log"));
        Assert.True(ignore.IsExcluded("a/b/c/app.log"));
        Assert.False(ignore.IsExcluded("a/app.txt"));
    }

    [Fact]
    public void An_excluded_directory_excludes_everything_below_it()
    {
        var ignore = new DockerIgnore(["node_modules"]);

        Assert.True(ignore.IsExcluded("node_modules/left-pad/index.js"));
    }

    [Fact]
    public void A_negation_reincludes_but_the_last_matching_pattern_wins()
    {
        var ignore = new DockerIgnore(["*.md", "!README.md", "README*.md"]);

        Assert.True(ignore.IsExcluded("CHANGELOG.md"));
        Assert.True(ignore.IsExcluded("README-secret.md"));
        Assert.True(ignore.IsExcluded("README.md"));
    }

    [Fact]
    public void A_negation_reincludes_a_file_inside_an_excluded_directory()
    {
        var ignore = new DockerIgnore(["docs", "!docs/keep.txt"]);

        Assert.True(ignore.IsExcluded("docs/drop.txt"));
        Assert.False(ignore.IsExcluded("docs/keep.txt"));
    }

    [Fact]
    public void Comments_blank_lines_and_leading_slashes_are_handled_like_the_engine()
    {
        var ignore = new DockerIgnore(["# a comment", "", "  /build/  ", "./tmp"]);

        Assert.True(ignore.IsExcluded("build/out.bin"));
        Assert.True(ignore.IsExcluded("tmp/x"));
        Assert.False(ignore.IsExcluded("# a comment"));
    }

    [Fact]
    public void A_question_mark_and_character_classes_match_exactly_one_character()
    {
        var ignore = new DockerIgnore(["file?.txt", "data[0-9].csv"]);

        Assert.True(ignore.IsExcluded("file1.txt"));
        Assert.False(ignore.IsExcluded("file10.txt"));
        Assert.True(ignore.IsExcluded("data7.csv"));
        Assert.False(ignore.IsExcluded("datax.csv"));
    }
}
