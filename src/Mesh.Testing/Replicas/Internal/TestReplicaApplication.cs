using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Mesh.Testing.Internal;

/// <summary>
/// The test replica as an application folder, made from what this process already runs: a two-method launcher assembly
/// (emitted here, whose <c>Main</c> calls <see cref="InProcessReplica.RunAsProcessAsync"/>), its runtime configuration
/// (this process's Microsoft.NETCore.App and Microsoft.AspNetCore.App versions) and Mesh.Testing with every assembly it
/// references that is not part of a shared framework, taken from where this process loads them. So the package needs
/// no SDK, no restore and no copy of a sample project to put the test replica into a container, and the replica in a
/// container runs the same bits as the one in this process.
/// </summary>
[System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000",
    Justification = "Assembly locations are checked: an app whose assemblies have no file gets an exception naming the alternative.")]
internal static class TestReplicaApplication
{
    public const string AssemblyName = "MeshTestReplica";

    /// <summary>Writes the folder; returns the path of the launcher assembly.</summary>
    public static string Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var testing = typeof(InProcessReplica).Assembly;
        if (string.IsNullOrEmpty(testing.Location))
        {
            throw new InvalidOperationException(
                "Mesh.Testing is not loaded from a file (a single-file or in-memory app), so the test replica image cannot be made from it; pass a replica project to ContainerReplicaTemplate.ForTestReplicaAsync(session, projectPath).");
        }

        foreach (var file in Closure(testing.Location))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        }

        var launcher = Path.Combine(directory, AssemblyName + ".dll");
        WriteLauncher(launcher);
        File.WriteAllText(Path.Combine(directory, AssemblyName + ".runtimeconfig.json"), RuntimeConfig());
        return launcher;
    }

    /// <summary>Mesh.Testing and the assemblies it needs, transitively, that do not come with a shared framework.</summary>
    internal static IReadOnlyList<string> Closure(string root)
    {
        var trusted = ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        var frameworkDirectories = new[] { typeof(object).Assembly.Location, typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly.Location }
            .Select(p => Path.GetDirectoryName(p)!)
            .ToArray();
        bool IsFramework(string path) => frameworkDirectories.Any(d => string.Equals(Path.GetDirectoryName(path), d, StringComparison.Ordinal));

        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Queue<string>([root]);
        while (pending.TryDequeue(out var path) && result.Count < 500)
        {
            if (!seen.Add(Path.GetFileNameWithoutExtension(path)) || IsFramework(path) || !File.Exists(path))
            {
                continue;
            }

            result.Add(path);
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata)
            {
                continue;
            }

            var metadata = pe.GetMetadataReader();
            foreach (var handle in metadata.AssemblyReferences)
            {
                var name = metadata.GetString(metadata.GetAssemblyReference(handle).Name);
                if (trusted.TryGetValue(name, out var reference))
                {
                    pending.Enqueue(reference);
                }
            }
        }

        return result;
    }

    private static string RuntimeConfig()
    {
        var aspNetCore = Path.GetFileName(Path.GetDirectoryName(typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly.Location)!);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("runtimeOptions");
            json.WriteString("tfm", $"net{Environment.Version.Major}.{Environment.Version.Minor}");
            json.WriteStartArray("frameworks");
            foreach (var (name, version) in new[] { ("Microsoft.NETCore.App", Environment.Version.ToString()), ("Microsoft.AspNetCore.App", aspNetCore) })
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("version", version);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("configProperties");
            json.WriteBoolean("System.Globalization.Invariant", true);
            json.WriteBoolean("System.GC.Server", false);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Emits <c>static int Main(string[] args) =&gt; InProcessReplica.RunAsProcessAsync(default).GetAwaiter().GetResult();</c>.</summary>
    private static void WriteLauncher(string path)
    {
        var assembly = new PersistedAssemblyBuilder(new AssemblyName(AssemblyName) { Version = new Version(1, 0, 0, 0) }, typeof(object).Assembly);
        var module = assembly.DefineDynamicModule(AssemblyName);
        var program = module.DefineType("MeshTestReplicaProgram", TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
        var main = program.DefineMethod("Main", MethodAttributes.Public | MethodAttributes.Static, typeof(int), [typeof(string[])]);
        var il = main.GetILGenerator();
        var awaiter = il.DeclareLocal(typeof(TaskAwaiter<int>));
        var token = il.DeclareLocal(typeof(CancellationToken));
        il.Emit(OpCodes.Ldloca_S, token);
        il.Emit(OpCodes.Initobj, typeof(CancellationToken));
        il.Emit(OpCodes.Ldloc, token);
        il.Emit(OpCodes.Call, typeof(InProcessReplica).GetMethod(nameof(InProcessReplica.RunAsProcessAsync), [typeof(CancellationToken)])!);
        il.Emit(OpCodes.Callvirt, typeof(Task<int>).GetMethod(nameof(Task<int>.GetAwaiter), Type.EmptyTypes)!);
        il.Emit(OpCodes.Stloc, awaiter);
        il.Emit(OpCodes.Ldloca_S, awaiter);
        il.Emit(OpCodes.Call, typeof(TaskAwaiter<int>).GetMethod(nameof(TaskAwaiter<int>.GetResult), Type.EmptyTypes)!);
        il.Emit(OpCodes.Ret);
        program.CreateType();

        var metadata = assembly.GenerateMetadata(out var ilStream, out var fieldData);
        var pe = new ManagedPEBuilder(
            header: PEHeaderBuilder.CreateExecutableHeader(),
            metadataRootBuilder: new MetadataRootBuilder(metadata),
            ilStream: ilStream,
            mappedFieldData: fieldData,
            entryPoint: MetadataTokens.MethodDefinitionHandle(main.MetadataToken));
        var blob = new BlobBuilder();
        pe.Serialize(blob);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        blob.WriteContentTo(file);
    }
}
