// The Catalog service: dotnet run --project samples/Catalog  (see samples/README.md for certificates)
await Catalog.CatalogApp.Build(args).RunAsync();
