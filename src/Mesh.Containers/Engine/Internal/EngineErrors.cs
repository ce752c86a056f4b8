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

    /// <summary>Whether <paramref name="error"/> is the engine refusing or not answering (as opposed to a bug).</summary>
    public static bool IsEngineFailure(Exception error) => error switch
    {
        DockerApiException or DockerEngineException or HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsEngineFailure),
        _ => false,
    };

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
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(operation, e);
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
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(operation, e);
        }
    }

    /// <summary>The transport failure as a <see cref="DockerEngineException"/>, or <see langword="null"/> when it is something else.</summary>
    public static DockerEngineException? TranslateUnreachable(string operation, Exception error) =>
        IsUnreachable(error) ? Unreachable(operation, error) : null;

    private static bool IsUnreachable(Exception error) => error switch
    {
        HttpRequestException or System.Net.Sockets.SocketException => true,
        IOException when error is not FileNotFoundException and not DirectoryNotFoundException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsUnreachable),
        _ => false,
    };

    private static DockerEngineException Unreachable(string operation, Exception error)
    {
        var root = error is AggregateException aggregate ? aggregate.Flatten().InnerExceptions[0] : error;
        return new DockerEngineException(operation, null, $"the engine did not answer ({root.Message})", error);
    }
}
