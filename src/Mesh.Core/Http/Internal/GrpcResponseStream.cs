using System.Runtime.CompilerServices;

namespace Mesh.Http.Internal;

/// <summary>
/// The transport's response stream of a gRPC call, passed through unchanged; it only tells its
/// <see cref="GrpcResponseContent"/> when a read of at least one byte returns 0 (the end: the trailers are in) and when
/// a read fails. A zero-byte read (grpc-dotnet waits for data with one) says nothing about the end. Pending reads
/// complete through a pooled state machine, so reading allocates nothing per read.
/// </summary>
internal sealed class GrpcResponseStream(Stream inner, GrpcResponseContent owner) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return inner.ReadAsync(buffer, cancellationToken);
        }

        ValueTask<int> read;
        try
        {
            read = inner.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception ex)
        {
            owner.OnReadFailed(ex, cancellationToken);
            throw;
        }

        if (read.IsCompletedSuccessfully)
        {
            var count = read.Result;
            if (count == 0)
            {
                owner.OnEndOfStream();
            }

            return new ValueTask<int>(count);
        }

        return AwaitReadAsync(read, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> buffer)
    {
        int count;
        try
        {
            count = inner.Read(buffer);
        }
        catch (Exception ex)
        {
            owner.OnReadFailed(ex, CancellationToken.None);
            throw;
        }

        if (count == 0 && !buffer.IsEmpty)
        {
            owner.OnEndOfStream();
        }

        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            owner.OnStreamDisposed();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> AwaitReadAsync(ValueTask<int> read, CancellationToken cancellationToken)
    {
        int count;
        try
        {
            count = await read.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            owner.OnReadFailed(ex, cancellationToken);
            throw;
        }

        if (count == 0)
        {
            owner.OnEndOfStream();
        }

        return count;
    }
}
