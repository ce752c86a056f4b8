using Mesh.Authorization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>A controller authorized the classic way: <c>[Authorize(Policy = ...)]</c> and <c>[AuthorizeSpiffeId(...)]</c>.</summary>
[ApiController]
[Route("inventory")]
[AuthorizeSpiffeId("spiffe://mesh.test/*")]
public sealed class InventoryController : ControllerBase
{
    [HttpGet]
    public string List() => $"inventory for {User.GetSpiffeId()}";

    [HttpPost("recount")]
    [Authorize(Policy = "ops")]
    public string Recount() => $"recount started by {User.Identity?.Name}";

    [HttpDelete("{id:int}")]
    [AuthorizeSpiffeId("spiffe://mesh.test/ops/console")]
    public string Delete(int id) => $"deleted {id}";
}
