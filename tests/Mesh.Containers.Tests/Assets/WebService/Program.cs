if (Environment.GetEnvironmentVariable("CRASH_AT_START") is { Length: > 0 } crash)
{
    // An app whose start-up throws: the image must print the exception and exit as on the host (SIGABRT, 134).
    throw new InvalidOperationException(crash);
}

var app = WebApplication.CreateSlimBuilder(args).Build();
var replica = Environment.GetEnvironmentVariable("REPLICA") ?? Environment.MachineName;
app.MapGet("/", () => $"catalog replica {replica}");
app.MapGet("/healthz", () => "ok");
app.Run();
