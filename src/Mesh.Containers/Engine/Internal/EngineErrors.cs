using System.Text.Json;
using Docker.DotNet;

namespace Mesh.Containers.Internal;

/// <summary>Turns Docker.DotNet failures into <see cref="DockerEngineException"/>s that carry the engine's message.</summary>
internal static class EngineErrors
{
    public static DockerEngineException Wrap(string operation, DockerApiException error) =>
        new(operation, error.StatusCode, MessageOf(error.ResponseBody), error);

    /// <summary>Extracts <c>message</c> from the engine's JSON error body; falls back to the raw body.</summary>
    public static string MessageOf(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return "(the engine gave no message)";
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("message", out var message) &&
                message.ValueKind == JsonValueKind.String)
            {
                return message.GetString()!.Trim();
            }
        }
        catch (JsonException)
        {
        }

        return body.Trim();
    }

    public static async Task<T> CallAsync<T>(string operation, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            throw Wrap(operation, e);
        }
    }

    public static async Task CallAsync(string operation, Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            throw Wrap(operation, e);
        }
    }
}
