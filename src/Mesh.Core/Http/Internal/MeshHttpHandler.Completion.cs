using System.Runtime.CompilerServices;

namespace Mesh.Http.Internal;

internal sealed partial class MeshHttpHandler
{
    /// <summary>
    /// The end of an attempt: when the transport's task ends, runs <see cref="Complete"/> in the request's execution
    /// context and completes the task the caller awaits. What an <c>async</c> method would do, without its state machine
    /// box (170 bytes per request with the attempt in it): the state lives in a pooled object, the continuation is its
    /// cached delegate (stored on the transport's task without an allocation), and the caller's task is the bare
    /// <see cref="Task{TResult}"/> of an <see cref="AsyncTaskMethodBuilder{TResult}"/> (72 bytes), completed as an async
    /// method's would be: a result, an exception, or — for an <see cref="OperationCanceledException"/> — cancelled. For
    /// a drainable attempt the caller's task is the <see cref="DrainableAttempt"/>'s, which the outcome is handed to.
    /// </summary>
    private sealed class Completion
    {
        private const int PoolSize = 64;
        private static readonly Completion?[] s_pool = new Completion?[PoolSize];
        private static readonly ContextCallback s_run = static state => ((Completion)state!).Run();

        private readonly Action _onSent;
        private AsyncTaskMethodBuilder<HttpResponseMessage> _builder;
        private Task<HttpResponseMessage>? _sending;
        private Attempt _attempt;
        private CancellationToken _cancellationToken;
        private ExecutionContext? _context;

        private Completion() => _onSent = OnSent;

        /// <summary>The task of the attempt: ends after <see cref="Complete"/> has recorded <paramref name="sending"/>'s
        /// outcome, with its response or its exception.</summary>
        public static Task<HttpResponseMessage> Start(Task<HttpResponseMessage> sending, in Attempt attempt, CancellationToken cancellationToken)
        {
            var completion = Rent();
            Task<HttpResponseMessage> task; // made before the continuation can run (and the object go back to the pool)
            if (attempt.Drainable is { } drainable)
            {
                task = drainable.Start();
            }
            else
            {
                completion._builder = AsyncTaskMethodBuilder<HttpResponseMessage>.Create();
                task = completion._builder.Task;
            }

            completion._sending = sending;
            completion._attempt = attempt;
            completion._cancellationToken = cancellationToken;
            var awaiter = sending.ConfigureAwait(false).GetAwaiter();
            if (awaiter.IsCompleted)
            {
                completion.Run(); // on this thread, in this context
            }
            else
            {
                completion._context = ExecutionContext.Capture();
                awaiter.UnsafeOnCompleted(completion._onSent);
            }

            return task;
        }

        private void OnSent()
        {
            if (_context is { } context)
            {
                // As an async method resumes: in the context the request was sent in (Activity.Current for the spans).
                ExecutionContext.Run(context, s_run, this);
            }
            else
            {
                Run();
            }
        }

        private void Run()
        {
            // Everything is copied out and the object goes back to the pool before the caller's task completes: its
            // continuations run inline and may send the next request, which may take this object.
            var builder = _builder;
            var sending = _sending!;
            var attempt = _attempt;
            var cancellationToken = _cancellationToken;
            _builder = default;
            _sending = null;
            _attempt = default;
            _cancellationToken = default;
            _context = null;
            Return(this);

            HttpResponseMessage response;
            try
            {
                response = Complete(sending, attempt, cancellationToken);
            }
            catch (Exception ex)
            {
                if (attempt.Drainable is { } failed)
                {
                    failed.Complete(null, ex);
                }
                else
                {
                    builder.SetException(ex);
                }

                return;
            }

            if (attempt.Drainable is { } drainable)
            {
                drainable.Complete(response, null);
            }
            else
            {
                builder.SetResult(response);
            }
        }

        private static Completion Rent()
        {
            var pool = s_pool;
            for (var i = 0; i < pool.Length; i++)
            {
                var item = Volatile.Read(ref pool[i]);
                if (item is not null && Interlocked.CompareExchange(ref pool[i], null, item) == item)
                {
                    return item;
                }
            }

            return new Completion();
        }

        private static void Return(Completion completion)
        {
            var pool = s_pool;
            for (var i = 0; i < pool.Length; i++)
            {
                if (Volatile.Read(ref pool[i]) is null && Interlocked.CompareExchange(ref pool[i], completion, null) is null)
                {
                    return;
                }
            }

            // The pool is full (more attempts in flight than it holds): this one is left to the GC.
        }
    }
}
