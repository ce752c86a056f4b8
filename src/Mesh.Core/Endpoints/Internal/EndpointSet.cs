using Mesh.Health.Internal;
using Mesh.Services.Internal;

namespace Mesh.Endpoints.Internal;

/// <summary>How a merge changed the set.</summary>
internal readonly record struct EndpointSetChange(int Count, int Added, int Removed);

/// <summary>
/// The endpoints of one service: the latest set of each discovery source, merged into one array of
/// <see cref="EndpointState"/>s. An endpoint that stays (same key) keeps its state — load, latency, health — across
/// updates; one that joins a running service starts its slow-start ramp; duplicates across sources keep the first.
/// Enforces the transport-security rule at the door: a service that requires mutual TLS admits no plain-http endpoint
/// from any source. Not thread-safe: the owning service calls it under its lock; <see cref="States"/> may be read anywhere.
/// </summary>
internal sealed class EndpointSet(ServiceRuntime owner, ServiceEvents events)
{
    private readonly Dictionary<string, IReadOnlyList<MeshEndpoint>> _sources = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _problems = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _failuresInARow = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _refusedPlainHttp = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warnedPlainHttp = new(StringComparer.Ordinal);
    private EndpointState[] _states = [];
    private bool _hadEndpoints;

    /// <summary>The merged endpoints, in source order.</summary>
    public EndpointState[] States => Volatile.Read(ref _states);

    /// <summary>The current problem of each failing source, joined ("Etcd: connection refused; Dns: ..."), or null.</summary>
    public string? Problems => _problems.Count == 0 ? null : string.Join("; ", _problems.Select(p => $"{p.Key}: {p.Value}"));

    /// <summary>What each of <paramref name="configured"/> last did (for snapshots): the size of its last set, its current
    /// problem and its failures in a row.</summary>
    public MeshDiscoverySourceSnapshot[] DescribeSources(IReadOnlyList<string> configured)
    {
        var sources = new MeshDiscoverySourceSnapshot[configured.Count];
        for (var i = 0; i < sources.Length; i++)
        {
            var name = configured[i];
            sources[i] = new MeshDiscoverySourceSnapshot(name, _sources.TryGetValue(name, out var set) ? set.Count : null,
                _problems.GetValueOrDefault(name), _failuresInARow.GetValueOrDefault(name));
        }

        return sources;
    }

    /// <summary>Whether <paramref name="source"/> has published a set (it may have been empty).</summary>
    public bool HasPublished(string source) => _sources.ContainsKey(source);

    /// <summary>Replaces one source's set (the caller then merges); returns how many failures in a row it recovered
    /// from (0 when it was not failing).</summary>
    public int SetSource(string source, IReadOnlyList<MeshEndpoint> endpoints)
    {
        _sources[source] = endpoints;
        _problems.Remove(source);
        return _failuresInARow.Remove(source, out var failures) ? failures : 0;
    }

    /// <summary>Records that a source failed; returns its failures in a row (1 for the first) and how many endpoints its
    /// last set had (they stay in use).</summary>
    public (int FailuresInARow, int LastCount) SetProblem(string source, string problem)
    {
        _problems[source] = problem;
        var failures = _failuresInARow[source] = _failuresInARow.GetValueOrDefault(source) + 1;
        return (failures, _sources.TryGetValue(source, out var last) ? last.Count : 0);
    }

    /// <summary>Drops the sets and problems of sources no longer configured.</summary>
    public void RetainSources(IReadOnlyCollection<string> sources)
    {
        foreach (var stale in _sources.Keys.Concat(_problems.Keys).Distinct(StringComparer.OrdinalIgnoreCase).Where(s => !sources.Contains(s, StringComparer.OrdinalIgnoreCase)).ToList())
        {
            _sources.Remove(stale);
            _problems.Remove(stale);
            _failuresInARow.Remove(stale);
        }
    }

    /// <summary>Merges every source's set into a new <see cref="States"/> array.</summary>
    public EndpointSetChange Merge(string changedSource, ServiceSettings settings, bool hasIdentity, long now)
    {
        var current = _states;
        var existing = new Dictionary<string, EndpointState>(current.Length, StringComparer.Ordinal);
        foreach (var state in current)
        {
            existing[state.Key] = state;
        }

        var merged = new List<EndpointState>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var refused = new HashSet<string>(StringComparer.Ordinal);
        var added = 0;
        var rampUp = _hadEndpoints ? SlowStart.Begin(now, settings.SlowStart) : 0;
        foreach (var (source, endpoints) in _sources)
        {
            foreach (var endpoint in endpoints)
            {
                if (endpoint.Address.Scheme != Uri.UriSchemeHttps && !AdmitPlainHttp(source, endpoint, settings, hasIdentity, refused))
                {
                    continue;
                }

                if (!seen.Add(endpoint.Key))
                {
                    if (string.Equals(source, changedSource, StringComparison.OrdinalIgnoreCase))
                    {
                        events.EndpointSkipped(endpoint.Key, source, "listed more than once; the first entry wins");
                    }

                    continue;
                }

                if (existing.Remove(endpoint.Key, out var state))
                {
                    if (!state.Endpoint.Equals(endpoint))
                    {
                        state.Update(endpoint);
                    }
                }
                else
                {
                    state = new EndpointState(endpoint, owner) { SlowStartBegin = rampUp };
                    added++;
                }

                merged.Add(state);
            }
        }

        _refusedPlainHttp.IntersectWith(refused); // an endpoint refused again after it left is reported again
        _warnedPlainHttp.IntersectWith(seen);
        Volatile.Write(ref _states, merged.ToArray());
        foreach (var left in existing.Values)
        {
            left.Removed = true; // its connection pool may be disposed once idle (see EndpointPool)
        }

        _hadEndpoints |= merged.Count > 0;
        return new EndpointSetChange(merged.Count, added, existing.Count);
    }

    /// <summary>A service that requires mutual TLS never admits a plain-http endpoint (a registry writer must not be
    /// able to downgrade it to clear text): it is left out, with a warning and a count the first time. Endpoints from
    /// configuration were validated on start, so this only refuses discovered ones. With an identity but no
    /// requirement, a plain-http endpoint is admitted with one warning.</summary>
    private bool AdmitPlainHttp(string source, MeshEndpoint endpoint, ServiceSettings settings, bool hasIdentity, HashSet<string> refused)
    {
        if (settings.RequiresMutualTls)
        {
            refused.Add(endpoint.Key);
            if (_refusedPlainHttp.Add(endpoint.Key))
            {
                events.PlainHttpRefused(endpoint, source);
            }

            return false;
        }

        if (hasIdentity && _warnedPlainHttp.Add(endpoint.Key))
        {
            events.PlainHttpAdmitted(endpoint, source);
        }

        return true;
    }
}
