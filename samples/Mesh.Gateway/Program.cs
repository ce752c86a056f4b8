// The gateway sample: dotnet run --project samples/Mesh.Gateway  (edit appsettings.json for your endpoints)
await Mesh.Gateway.GatewayApp.Build(args).RunAsync();
