using Microsoft.Extensions.Logging;

namespace Mesh.Http.Internal;

/// <summary>Log lines of the mesh handler (category <c>Mesh.Http</c>; event ids 1050–1059).</summary>
internal static partial class HttpLog
{
    /// <summary>The logger category.</summary>
    public const string Category = "Mesh.Http";

    /// <summary>At most one line per second per service: <paramref name="refused"/> counts the refusals since the last.</summary>
    [LoggerMessage(1050, LogLevel.Warning, "Mesh service {Service}: {Refused} retries refused since the last report (at most one a second), the retry budget is spent", EventName = "RetryBudgetExhausted")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service, long refused);
}
