"""A process pool for scanning many files: hard per-file timeouts and crash isolation.

Each file is analysed in a worker process; the parent only scores (so LightGBM, with its OpenMP
threads, never lives in a process that forks). pebble rather than concurrent.futures because it
can kill one stuck task and replace a dead worker without breaking the pool. Workers start with
forkserver, have an address-space limit, and are recycled after `max_tasks` files so a leak in a
parser cannot grow without bound.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable

from maldoc.extractor import Options
from maldoc.hashing import hashes
from maldoc.limits import Limits, MiB
from maldoc.types import Flag, Node
from maldoc.walk import analyze, failed_node

TaskFn = Callable[[bytes, str, Limits, Options], Node]


def _init_worker(max_memory_mb: int) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")  # library deprecation noise must not turn into task failures
    from maldoc.extractor import registry

    registry()  # import every extractor now, not inside the first file's time budget
    limit = max_memory_mb * MiB
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # not permitted here: the timeout still bounds the worker
        pass


def analyze_task(data: bytes, name: str, limits: Limits, options: Options) -> Node:
    node = analyze(data, name, limits=limits, options=options)
    # The input's hashes (TLSH costs about as much as scoring) here, in the worker: the parent's one
    # scoring thread, which every file of the service passes through, then only scores.
    node.hashes = hashes(data)
    return node


def default_jobs() -> int:
    from maldoc.cpus import available_cpus  # the affinity mask, capped by the cgroup CPU quota

    return available_cpus()


class ScanPool:
    """`submit()` returns a Future that always resolves to a `Node`, never to an exception.

    Cancelling that Future (a caller that stopped waiting) stops the scan in its worker.
    """

    def __init__(self, jobs: int | None = None, *, limits: Limits | None = None,
                 options: Options | None = None, max_tasks: int = 500, task: TaskFn = analyze_task) -> None:
        self.limits = limits or Limits()
        self.options = options or Options()
        self.jobs = jobs or default_jobs()
        self._task = task
        import multiprocessing  # here, with pebble: a single input scanned by `fork_analyze` needs neither

        import pebble

        context = multiprocessing.get_context("forkserver")
        self._pool = pebble.ProcessPool(max_workers=self.jobs, max_tasks=max_tasks, context=context,
                                        initializer=_init_worker, initargs=(self.limits.max_memory_mb,))

    def submit(self, data: bytes, name: str = "", options: Options | None = None) -> cf.Future:
        import pebble

        result: cf.Future = cf.Future()
        opts = options or self.options
        inner = self._pool.schedule(self._task, args=(data, name, self.limits, opts),
                                    timeout=self.limits.timeout_s)

        def done(fut: cf.Future) -> None:
            try:
                node = fut.result()
            except cf.TimeoutError:
                node = failed_node(data, name, Flag.TIMED_OUT,
                                   f"analysis killed after timeout_s={self.limits.timeout_s}")
            except pebble.ProcessExpired as exc:
                node = failed_node(data, name, Flag.WORKER_DIED,
                                   f"scan worker died (exit code {exc.exitcode}): crash or memory limit")
            except cf.CancelledError:
                node = failed_node(data, name, Flag.TIMED_OUT, "scan cancelled")
            except MemoryError:
                node = failed_node(data, name, Flag.LIMIT_EXCEEDED, "out of memory in scan worker")
            except Exception as exc:
                node = failed_node(data, name, Flag.PARSE_ERROR, f"scan worker failed ({type(exc).__name__})")
            if not result.cancelled():
                result.set_result(node)

        def cancelled(fut: cf.Future) -> None:
            if fut.cancelled():
                inner.cancel()  # pebble stops the worker running it; the pool replaces the worker

        inner.add_done_callback(done)
        result.add_done_callback(cancelled)
        return result

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.terminate()


def fork_analyze(data: bytes, name: str, limits: Limits, options: Options, task: TaskFn = analyze_task) -> Node:
    """One input analysed in a forked child: the pool's hard timeout, memory limit and crash
    isolation without starting a pool (a forkserver and its interpreter cost about a second; a
    fork costs milliseconds). For a single small input (an analyst's one file). The child only
    analyses (no LightGBM call), so threads the parent may have started are never needed there."""
    import pickle
    import select
    import signal
    import time

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: analyse, send the pickled Node, leave without running any cleanup
        code = 0
        try:
            os.close(read_fd)
            _init_worker(limits.max_memory_mb)
            payload = pickle.dumps(task(data, name, limits, options), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        except MemoryError:
            code = 3
        except BaseException:
            code = 4
        os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limits.timeout_s
    timed_out = False
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return failed_node(data, name, Flag.TIMED_OUT, f"analysis killed after timeout_s={limits.timeout_s}")
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not chunks:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
        if code == 3:
            return failed_node(data, name, Flag.LIMIT_EXCEEDED, "out of memory in scan worker")
        return failed_node(data, name, Flag.WORKER_DIED, f"scan worker died (exit code {code}): crash or memory limit")
    return pickle.loads(b"".join(chunks))
