using Microsoft.AspNetCore.Http;

namespace Mesh.Authorization.Internal;

/// <summary>Why a request's SPIFFE ID requirements failed, kept on the request for the scheme's 403 log line (ASP.NET Core
/// hands the forbid handler no failure details).</summary>
internal static class AuthorizationNotes
{
    private static readonly object s_key = new();

    public static void AddFailure(HttpContext context, string reason)
    {
        context.Items[s_key] = context.Items.TryGetValue(s_key, out var earlier) && earlier is string text && !text.Contains(reason, StringComparison.Ordinal)
            ? $"{text} {reason}"
            : reason;
    }

    public static string? GetFailure(HttpContext context) => context.Items.TryGetValue(s_key, out var value) ? value as string : null;
}
