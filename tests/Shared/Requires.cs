namespace Mesh.Tests.Shared;

/// <summary>
/// Gate for integration tests that need an outside component (Docker engine, etcd, dnsmasq, busybox, ...).
/// Outside CI a missing component skips the test with a reason naming it; with <c>CI=true</c> it fails the test,
/// so CI never passes silently without exercising the real component.
/// </summary>
internal static class Requires
{
    /// <summary>True when the CI environment variable says so (<c>CI=true</c> or <c>CI=1</c>).</summary>
    public static bool IsCI =>
        Environment.GetEnvironmentVariable("CI") is { } ci &&
        (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    /// <summary>Skips (outside CI) or fails (in CI) the current test when <paramref name="available"/> is false.</summary>
    /// <param name="available">Whether the component is usable.</param>
    /// <param name="component">What is missing, for example "Docker engine".</param>
    /// <param name="howToGet">How to get it, for example "run ./test.sh as root, which installs docker.io and starts dockerd".</param>
    public static void Component(bool available, string component, string howToGet)
    {
        if (available)
        {
            return;
        }

        var message = $"{component} is not available; {howToGet}";
        if (IsCI)
        {
            Assert.Fail($"CI=true, so this integration test must run, but {message}");
        }

        Assert.Skip(message);
    }

    /// <summary>Finds an executable on PATH or in the usual sbin folders.</summary>
    public static string? FindExecutable(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Returns the path of <paramref name="name"/>, or skips/fails the test naming the Debian package that provides it.</summary>
    public static string Executable(string name, string debianPackage)
    {
        var found = FindExecutable(name);
        Component(found is not null, $"'{name}' (Debian package {debianPackage})", $"run ./test.sh as root, which installs it, or: apt-get install -y {debianPackage}");
        return found!;
    }
}
