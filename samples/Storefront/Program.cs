// The Storefront service: dotnet run --project samples/Storefront  (see samples/README.md)
await Storefront.StorefrontApp.Build(args).RunAsync();
