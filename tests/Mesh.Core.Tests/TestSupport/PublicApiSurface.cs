using System.Reflection;

namespace Mesh.Tests.TestSupport;

/// <summary>Which assemblies a package's public API exposes: the types in the signatures of its public and protected
/// members, its public types' base types and interfaces, and their generic arguments and element types.</summary>
internal static class PublicApiSurface
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Assembly name → where its types appear (for the failure message).</summary>
    public static SortedDictionary<string, SortedSet<string>> ExposedAssemblies(Assembly assembly)
    {
        var exposed = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetExportedTypes())
        {
            var name = type.FullName!;
            Visit(type.BaseType, name, exposed);
            foreach (var contract in type.GetInterfaces())
            {
                Visit(contract, name, exposed);
            }

            foreach (var member in type.GetMembers(Declared))
            {
                var where = $"{name}.{member.Name}";
                switch (member)
                {
                    case FieldInfo field when field.IsPublic || field.IsFamily || field.IsFamilyOrAssembly:
                        Visit(field.FieldType, where, exposed);
                        break;
                    case PropertyInfo property when property.GetAccessors(nonPublic: true).Any(Visible):
                        Visit(property.PropertyType, where, exposed);
                        break;
                    case EventInfo @event when @event.AddMethod is { } add && Visible(add):
                        Visit(@event.EventHandlerType, where, exposed);
                        break;
                    case MethodBase method when Visible(method):
                        if (method is MethodInfo m)
                        {
                            Visit(m.ReturnType, where, exposed);
                        }

                        foreach (var parameter in method.GetParameters())
                        {
                            Visit(parameter.ParameterType, where, exposed);
                        }

                        break;
                }
            }
        }

        return exposed;
    }

    private static bool Visible(MethodBase method) => method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly;

    private static void Visit(Type? type, string where, SortedDictionary<string, SortedSet<string>> exposed)
    {
        if (type is null || type.IsGenericParameter)
        {
            return;
        }

        if (type.HasElementType)
        {
            Visit(type.GetElementType(), where, exposed);
            return;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Visit(argument, where, exposed);
            }

            type = type.GetGenericTypeDefinition();
        }

        var assembly = type.Assembly.GetName().Name!;
        if (!exposed.TryGetValue(assembly, out var places))
        {
            exposed[assembly] = places = new SortedSet<string>(StringComparer.Ordinal);
        }

        places.Add(where);
    }

    /// <summary>The BCL and Microsoft.Extensions.*: what every package may expose.</summary>
    public static bool IsPlatform(string assembly) =>
        assembly is "System" or "netstandard" or "mscorlib"
        || assembly.StartsWith("System.", StringComparison.Ordinal)
        || assembly.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
        || assembly.StartsWith("Microsoft.Win32.", StringComparison.Ordinal);

    /// <summary>Fails naming each foreign assembly and where the API exposes it.</summary>
    public static void AssertExposesOnly(Assembly assembly, Func<string, bool> allowed)
    {
        var foreign = ExposedAssemblies(assembly).Where(e => !IsPlatform(e.Key) && !allowed(e.Key)).ToList();
        Assert.True(foreign.Count == 0, $"{assembly.GetName().Name} exposes third-party types; wrap them:{Environment.NewLine}" +
            string.Join(Environment.NewLine, foreign.Select(f => $"  {f.Key}: {string.Join(", ", f.Value.Take(10))}")));
    }
}
