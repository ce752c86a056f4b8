var app = WebApplication.CreateSlimBuilder(args).Build();
var replica = Environment.GetEnvironmentVariable("REPLICA") ?? Environment.MachineName;
app.MapGet("/", () => $"catalog replica {replica}");
app.MapGet("/healthz", () => "ok");
app.Run();
