using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Mesh.Identity.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace Mesh.Identity;

/// <summary>
/// Reads the workload's identity from PEM files (<see cref="MeshIdentityOptions"/>) and reloads it when they change,
/// the way cert-manager's csi-driver-spiffe, Kubernetes secret volumes (<c>..data</c> symlink swaps) or spiffe-helper
/// (atomic renames) rotate them. Changes are noticed by a <see cref="FileSystemWatcher"/> on the files' directories,
/// with a poll every <see cref="MeshIdentityOptions.PollInterval"/> as a fallback. New files are only used when they
/// form a valid SVID whose key matches and which validates against the new bundle; otherwise the last good identity is
/// kept and the problem is logged (a certificate and key renamed one after the other are briefly mismatched: that
/// state is simply waited out). Thread-safe; dispose to stop watching.
/// </summary>
public sealed class MeshFileIdentitySource : IMeshIdentitySource, IDisposable
{
    private static readonly TimeSpan s_settleDelay = TimeSpan.FromMilliseconds(50);

    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly string _bundlePath;
    private readonly TimeSpan _pollInterval;
    private readonly KeyFilePermissionCheck _keyFilePermissions;
    private readonly string _section;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly X509SvidValidator _validator;
    private readonly ChangeSignal _changed = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Task _loop;
    // Serializes reloads (the background loop and ReloadAsync). Never disposed: it has no wait handle to release.
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private MeshIdentity _current;
    private byte[] _loadedFingerprint;
    private byte[]? _rejectedFingerprint;
    private int _disposed;

    /// <summary>Loads the identity from the files and starts watching them.</summary>
    /// <param name="options">The file paths and poll interval.</param>
    /// <param name="logger">Where loads, rotations and rejected files are logged; none by default.</param>
    /// <param name="timeProvider">The clock for polling and validity checks; <see cref="TimeProvider.System"/> by default.</param>
    /// <exception cref="ArgumentException">The options are incomplete or out of range; the message names the key.</exception>
    /// <exception cref="InvalidOperationException">The files cannot be read or do not hold a valid identity; the message says which and why.</exception>
    public MeshFileIdentitySource(MeshIdentityOptions options, ILogger<MeshFileIdentitySource>? logger = null, TimeProvider? timeProvider = null)
        : this(options, logger, timeProvider, watchFileSystem: true)
    {
    }

    /// <summary>Test seam: <paramref name="watchFileSystem"/> = <see langword="false"/> relies on polling alone.</summary>
    internal MeshFileIdentitySource(MeshIdentityOptions options, ILogger? logger, TimeProvider? timeProvider, bool watchFileSystem)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.TryValidate(out var error))
        {
            throw new ArgumentException(error, nameof(options));
        }

        _certificatePath = Path.GetFullPath(options.CertificatePath!);
        _keyPath = Path.GetFullPath(options.KeyPath!);
        _bundlePath = Path.GetFullPath(options.TrustBundlePath!);
        _pollInterval = options.PollInterval;
        _keyFilePermissions = options.KeyFilePermissions;
        _section = options.ConfigurationPath;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _validator = new X509SvidValidator(_timeProvider);

        byte[] certificate, key, bundle;
        UnixFileMode? exposedKey;
        try
        {
            certificate = File.ReadAllBytes(_certificatePath);
            key = KeyFile.Read(_keyPath, out exposedKey);
            bundle = File.ReadAllBytes(_bundlePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{_section}: cannot read the identity files: {e.Message}", e);
        }

        try
        {
            if (KeyRefused(exposedKey) is { } refusal)
            {
                throw new InvalidOperationException($"{_section}:{nameof(MeshIdentityOptions.KeyPath)}: {refusal}");
            }

            _loadedFingerprint = Fingerprint(certificate, key, bundle);
            if (!TryLoad(certificate, key, bundle, out var identity, out var problem))
            {
                throw new InvalidOperationException(
                    $"{_section}: the files {_certificatePath}, {_keyPath} and {_bundlePath} do not hold a valid identity: {problem}");
            }

            _current = identity;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        IdentityLog.IdentityLoaded(_logger, _current.Id, _current.Svid.Certificate.SerialNumber, _current.Svid.NotAfter, _certificatePath, string.Join(", ", _current.Bundles.TrustDomains));
        WarnIfExposed(exposedKey);
        if (watchFileSystem)
        {
            StartWatching();
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token));
    }

    /// <inheritdoc />
    public MeshIdentity Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    public IChangeToken GetChangeToken() => _changed.GetToken();

    /// <summary>Checks the files now instead of waiting for a change event or the next poll.</summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns><see langword="true"/> when a new identity was loaded.</returns>
    public Task<bool> ReloadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return ReloadCoreAsync(cancellationToken);
    }

    /// <summary>Stops watching the files. The current identity stays readable.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        lock (_watchers)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
        }

        _wake.Writer.TryComplete();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // the loop only ends by cancellation; nothing to report
        }

        _stopping.Dispose();
    }

    private void StartWatching()
    {
        var directories = new[] { _certificatePath, _keyPath, _bundlePath }
            .Select(p => Path.GetDirectoryName(p)!)
            .Distinct(StringComparer.Ordinal);
        foreach (var directory in directories)
        {
            try
            {
                var watcher = new FileSystemWatcher(directory)
                {
                    IncludeSubdirectories = false,
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite |
                                   NotifyFilters.Size | NotifyFilters.CreationTime | NotifyFilters.Attributes,
                };
                // Any change in the directory may be a rotation (the file itself, a temp file renamed over it, or
                // Kubernetes' ..data symlink swap); a reload of unchanged files costs three small reads.
                watcher.Changed += OnFileSystemEvent;
                watcher.Created += OnFileSystemEvent;
                watcher.Deleted += OnFileSystemEvent;
                watcher.Renamed += OnFileSystemEvent;
                watcher.Error += OnWatcherError;
                watcher.EnableRaisingEvents = true;
                lock (_watchers)
                {
                    _watchers.Add(watcher);
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                IdentityLog.WatchUnavailable(_logger, directory, e.Message, _pollInterval);
            }
        }
    }

    private void OnFileSystemEvent(object sender, FileSystemEventArgs e) => _wake.Writer.TryWrite(true);

    private void OnWatcherError(object sender, ErrorEventArgs e)
    {
        IdentityLog.WatchUnavailable(_logger, ((FileSystemWatcher)sender).Path, e.GetException().Message, _pollInterval);
        _wake.Writer.TryWrite(true);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using (var round = CancellationTokenSource.CreateLinkedTokenSource(stopping))
                {
                    var woken = _wake.Reader.WaitToReadAsync(round.Token).AsTask();
                    var polled = Task.Delay(_pollInterval, _timeProvider, round.Token);
                    await Task.WhenAny(woken, polled).ConfigureAwait(false);
                    await round.CancelAsync().ConfigureAwait(false);
                }

                stopping.ThrowIfCancellationRequested();

                // Let a burst of events (a certificate, then a key, then a bundle renamed in place) settle before reading.
                await Task.Delay(s_settleDelay, _timeProvider, stopping).ConfigureAwait(false);
                while (_wake.Reader.TryRead(out _))
                {
                }

                await ReloadCoreAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                IdentityLog.ReloadFailed(_logger, e);
            }
        }
    }

    private async Task<bool> ReloadCoreAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        byte[]? key = null;
        try
        {
            byte[] certificate, bundle;
            UnixFileMode? exposedKey;
            try
            {
                certificate = await File.ReadAllBytesAsync(_certificatePath, cancellationToken).ConfigureAwait(false);
                key = KeyFile.Read(_keyPath, out exposedKey);
                bundle = await File.ReadAllBytesAsync(_bundlePath, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Mid-rotation a file can be briefly missing; the next event or poll reads it again.
                Reject(Fingerprint(Encoding.UTF8.GetBytes(e.Message), [], []), $"a file cannot be read ({e.Message}).");
                return false;
            }

            var fingerprint = Fingerprint(certificate, key, bundle);
            if (fingerprint.AsSpan().SequenceEqual(_loadedFingerprint))
            {
                _rejectedFingerprint = null;
                return false;
            }

            if (KeyRefused(exposedKey) is { } refusal)
            {
                Reject(fingerprint, refusal);
                return false;
            }

            if (!TryLoad(certificate, key, bundle, out var identity, out var problem))
            {
                Reject(fingerprint, problem);
                return false;
            }

            var previous = Current;
            _loadedFingerprint = fingerprint;
            _rejectedFingerprint = null;
            Volatile.Write(ref _current, identity);
            if (identity.Id.Equals(previous.Id))
            {
                IdentityLog.IdentityRotated(_logger, identity.Id, identity.Svid.Certificate.SerialNumber, identity.Svid.NotAfter, previous.Svid.Certificate.SerialNumber);
            }
            else
            {
                // Not a routine rotation: peers that authorize the old ID (ServerIdentity, AuthorizedClients, policies)
                // will refuse this workload from now on.
                IdentityLog.IdentityIdChanged(_logger, identity.Id, previous.Id, identity.Svid.Certificate.SerialNumber, identity.Svid.NotAfter,
                    previous.Svid.Certificate.SerialNumber, _certificatePath);
            }

            WarnIfExposed(exposedKey);
            _changed.Fire();
            return true;
        }
        finally
        {
            if (key is not null)
            {
                CryptographicOperations.ZeroMemory(key);
            }

            _reloadLock.Release();
        }
    }

    /// <summary>Why the key file must not be used (its mode, under <see cref="KeyFilePermissionCheck.Enforce"/>), or <see langword="null"/>.</summary>
    private string? KeyRefused(UnixFileMode? exposedMode) =>
        exposedMode is { } mode && _keyFilePermissions == KeyFilePermissionCheck.Enforce
            ? $"the private key file {_keyPath} is accessible by group or others (mode {KeyFile.Octal(mode)}) and {_section}:{nameof(MeshIdentityOptions.KeyFilePermissions)} is Enforce. " +
              $"Restrict it to its owner (chmod 600 {_keyPath}; on Kubernetes a volume defaultMode of 0400)."
            : null;

    private void WarnIfExposed(UnixFileMode? exposedMode)
    {
        if (exposedMode is { } mode && _keyFilePermissions == KeyFilePermissionCheck.Warn)
        {
            IdentityLog.KeyFileUnprotected(_logger, _keyPath, KeyFile.Octal(mode), $"{_section}:{nameof(MeshIdentityOptions.KeyFilePermissions)}");
        }
    }

    private void Reject(byte[] fingerprint, string problem)
    {
        // Log each bad state once, not at every poll.
        if (_rejectedFingerprint is not null && fingerprint.AsSpan().SequenceEqual(_rejectedFingerprint))
        {
            return;
        }

        _rejectedFingerprint = fingerprint;
        var current = Current;
        IdentityLog.IdentityReloadRejected(_logger, _certificatePath, _keyPath, _bundlePath, problem,
            current.Id, current.Svid.Certificate.SerialNumber, current.Svid.NotAfter);
    }

    private bool TryLoad(byte[] certificate, byte[] key, byte[] bundle, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeshIdentity? identity, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        identity = null;
        var keyChars = new char[Encoding.UTF8.GetMaxCharCount(key.Length)];
        try
        {
            var keyLength = Encoding.UTF8.GetChars(key, keyChars);
            X509Svid svid;
            try
            {
                svid = X509Svid.FromPem(Encoding.UTF8.GetString(certificate), keyChars.AsSpan(0, keyLength));
            }
            catch (CryptographicException e)
            {
                problem = $"the certificate ({_certificatePath}) and key ({_keyPath}) do not form an SVID: {e.Message}";
                return false;
            }
            catch (ArgumentException e)
            {
                problem = $"the certificate ({_certificatePath}) is not an X.509-SVID: {e.Message}";
                return false;
            }

            X509BundleSet bundles;
            try
            {
                bundles = X509BundleSet.FromPem(svid.Id.TrustDomain, Encoding.UTF8.GetString(bundle));
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                problem = $"the trust bundle ({_bundlePath}) holds no usable certificate: {e.Message}";
                return false;
            }

            var check = _validator.Validate(svid.Certificate, svid.Intermediates, bundles);
            if (!check.IsValid)
            {
                problem = $"the SVID {svid.Id} does not validate against the trust bundle ({check.Reason}): {check.Message}";
                return false;
            }

            identity = new MeshIdentity(svid, bundles);
            problem = null;
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshalBytes(keyChars));
        }
    }

    private static Span<byte> MemoryMarshalBytes(char[] chars) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(chars.AsSpan());

    private static byte[] Fingerprint(byte[] certificate, byte[] key, byte[] bundle)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(certificate);
        hash.AppendData([0]);
        hash.AppendData(key);
        hash.AppendData([0]);
        hash.AppendData(bundle);
        return hash.GetHashAndReset();
    }
}
