using System.Diagnostics;
using System.Globalization;
using CsCheck;

namespace Mesh.Tests.Fuzzing;

/// <summary>
/// Runs a property over generated inputs with CsCheck's generators and shrinker, on a budget the environment sets.
/// Linked into the test projects that fuzz a parser (see docs/fuzzing.md).
/// </summary>
/// <remarks>
/// <para>In the normal suite every property checks a fixed number of cases from a fixed seed (derived from the property's
/// name), so a run is repeatable and a green suite means the same inputs passed. Each case has a time limit: a case that
/// takes longer fails as a hang, with its input.</para>
/// <para>Environment variables (all optional):</para>
/// <list type="bullet">
/// <item><c>MESH_FUZZ_SCALE</c>: multiplies every property's case count (for example <c>1000</c> for a long run).</item>
/// <item><c>MESH_FUZZ_TIME</c>: seconds per property; the property then runs until the time is up instead of counting cases.</item>
/// <item><c>MESH_FUZZ_SEED</c>: a number to start from another fixed seed, or <c>random</c> for a new seed each run (printed on failure).</item>
/// <item><c>MESH_FUZZ_CASE_TIMEOUT</c>: seconds one case may take before it counts as a hang (default 10).</item>
/// </list>
/// <para>A failure is shrunk by CsCheck to a small input and reported with that input and a <c>CsCheck_Seed</c> that
/// replays it; turn the shrunk input into a plain regression test next to the property.</para>
/// </remarks>
internal static class FuzzCheck
{
    private const ulong DefaultSeed = 0x4D65736846757A7A; // "MeshFuzz"

    /// <summary>How many times the normal case count each property runs.</summary>
    public static long Scale { get; } = ReadLong("MESH_FUZZ_SCALE", 1, min: 1);

    /// <summary>Seconds per property, or 0 to count cases.</summary>
    public static long Seconds { get; } = ReadLong("MESH_FUZZ_TIME", 0, min: 0);

    /// <summary>How long one case may run before it counts as a hang.</summary>
    public static TimeSpan CaseTimeout { get; } = TimeSpan.FromSeconds(ReadLong("MESH_FUZZ_CASE_TIMEOUT", 10, min: 1));

    private static readonly ulong? s_baseSeed = ReadSeed();

    /// <summary>Checks <paramref name="property"/> on <paramref name="cases"/> generated inputs (times <see cref="Scale"/>).</summary>
    /// <typeparam name="T">The input type.</typeparam>
    /// <param name="gen">The input generator.</param>
    /// <param name="property">Throws (an assertion) when the property does not hold for an input.</param>
    /// <param name="cases">Cases in the normal suite.</param>
    /// <param name="print">Shows an input in a failure message; <see cref="object.ToString"/> by default.</param>
    /// <param name="name">The property's name (the calling test), which seeds its cases.</param>
    /// <returns>How many cases ran.</returns>
    public static long Run<T>(Gen<T> gen, Action<T> property, long cases, Func<T, string>? print = null, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        ArgumentNullException.ThrowIfNull(gen);
        ArgumentNullException.ThrowIfNull(property);
        var seed = (s_baseSeed ?? (ulong)Random.Shared.NextInt64()) ^ Fnv1A(name);
        var pcg = new PCG((uint)(seed >> 32) | 1, seed);
        var budget = cases * Scale;
        var deadline = Seconds > 0 ? Stopwatch.GetTimestamp() + (Seconds * Stopwatch.Frequency) : long.MaxValue;

        // One worker runs the cases one after the other; this thread watches the clock of the current case, so that a
        // hang fails the test (with its input) instead of stalling the run.
        long ran = 0;
        var caseStarted = Stopwatch.GetTimestamp();
        var currentState = 0UL;
        T current = default!;
        Exception? failure = null;
        var worker = Task.Factory.StartNew(
            () =>
            {
                while (Seconds > 0 ? Stopwatch.GetTimestamp() < deadline : ran < budget)
                {
                    var state = pcg.State;
                    var input = gen.Generate(pcg, null, out _);
                    current = input;
                    Volatile.Write(ref currentState, state);
                    Volatile.Write(ref caseStarted, Stopwatch.GetTimestamp());
                    Interlocked.Increment(ref ran);
                    try
                    {
                        property(input);
                    }
                    catch (Exception e)
                    {
                        failure = e;
                        return;
                    }
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        while (!worker.Wait(TimeSpan.FromMilliseconds(100)))
        {
            if (Stopwatch.GetElapsedTime(Volatile.Read(ref caseStarted)) > CaseTimeout)
            {
                failure = new TimeoutException($"The case did not finish within {CaseTimeout.TotalSeconds:0} s (a hang).");
                break;
            }
        }

        if (failure is null)
        {
            return ran;
        }

        var replay = pcg.ToString(Volatile.Read(ref currentState));
        var shown = Show(current, print);
        if (failure is not TimeoutException)
        {
            Shrink(gen, property, replay, print); // throws CsCheck's report with the smallest failing input it finds
        }

        throw new FuzzFailureException(
            $"{name}: case {ran} failed (CsCheck_Seed={replay}{(failure is TimeoutException ? "" : "; not reproduced by the shrinker")}). Input: {shown}", failure);
    }

    /// <summary>Runs one case on a worker so that a hang fails the test instead of stalling the run.</summary>
    private static Exception? RunCase<T>(Action<T> property, T input)
    {
        var task = Task.Factory.StartNew(
            () => property(input), CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        try
        {
            if (!task.Wait(CaseTimeout))
            {
                return new TimeoutException($"The case did not finish within {CaseTimeout.TotalSeconds:0} s (a hang).");
            }

            return null;
        }
        catch (AggregateException e)
        {
            return e.InnerException ?? e;
        }
    }

    /// <summary>Replays the failing seed through CsCheck, which shrinks it and throws with the smallest failing input.</summary>
    private static void Shrink<T>(Gen<T> gen, Action<T> property, string replay, Func<T, string>? print)
    {
        gen.Sample(
            input =>
            {
                if (RunCase(property, input) is { } failure)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
                }
            },
            seed: replay,
            iter: 2_000,
            time: -1,
            threads: 1,
            print: print);
    }

    private static string Show<T>(T input, Func<T, string>? print) => print?.Invoke(input) ?? input?.ToString() ?? "null";

    private static ulong? ReadSeed()
    {
        var text = Environment.GetEnvironmentVariable("MESH_FUZZ_SEED");
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultSeed;
        }

        if (text.Trim().Equals("random", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return ulong.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidOperationException($"MESH_FUZZ_SEED: '{text}' is not allowed; use a non-negative integer or 'random'.");
    }

    private static long ReadLong(string variable, long fallback, long min)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min
            ? value
            : throw new InvalidOperationException($"{variable}: '{text}' is not allowed; use an integer of at least {min}.");
    }

    private static ulong Fnv1A(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }
}

/// <summary>
/// The collection of the fuzz test classes: they keep both cores busy for seconds, so they run on their own, not next to
/// the timing-sensitive integration tests of the same assembly (file watchers, health probes, attempt timeouts).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    /// <summary>The collection's name, for <c>[Collection(FuzzCollection.Name)]</c>.</summary>
    public const string Name = "Fuzzing (not in parallel)";
}

/// <summary>A property failed on an input the shrinker could not reproduce (a flaky or order-dependent failure).</summary>
internal sealed class FuzzFailureException(string message, Exception inner) : Exception(message, inner);
