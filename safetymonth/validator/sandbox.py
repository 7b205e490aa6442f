"""Pooled, sandboxed worker processes for the probes that hand untrusted bytes to a
third-party parser (MediaInfo; Pillow when it decodes pixels).

A hostile file can make such a parser loop forever or allocate gigabytes. So those calls run
in worker processes (``safetymonth.validator.worker``), each with an address-space cap
(``RLIMIT_AS``, ``policy.probe.max_memory``) and a wall-clock limit per file
(``policy.probe.timeout``). A worker that overruns or dies is killed and replaced; the call
raises :class:`Overrun`, which costs that one file its verdict (``corrupt``), nothing more.

- Workers are reused: one process start per worker, not per file. They are started on demand
  (a caller that checks one file at a time uses one), up to the pool's size, which
  ``validate --jobs`` sets; ``validate`` runs its files in threads of the parent, so the pool
  *is* its parallelism and no process pool is stacked on top of it.
- They are plain ``python -m`` subprocesses talking over a pair of pipes, not
  ``multiprocessing`` children, so a caller that is itself a daemonic worker, or that has
  threads, can still start them.
- The pool belongs to the process that made it: after a ``fork`` the child builds its own.
  ``shutdown()`` runs at exit; a worker whose parent vanished reads end-of-file and exits.
"""

from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from safetymonth.config import ProbeLimits

T = TypeVar("T")
READY = "ready"
STARTUP_TIMEOUT = 120.0  # importing Pillow and MediaInfo on a loaded machine; not per file


class Overrun(Exception):
    """The parser ran out of time or memory, or its worker died: the file cannot be read."""


@dataclass(frozen=True)
class Source:
    """Where a worker finds the bytes: a file, or the member at ``member`` in the zip at
    ``path`` (opened by the worker itself, so a 4 GB member never crosses a pipe)."""

    path: str
    member: int | None = None

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        if self.member is None:
            with open(self.path, "rb") as stream:
                yield stream
            return
        with zipfile.ZipFile(self.path) as bundle, \
                bundle.open(bundle.infolist()[self.member]) as stream:
            yield stream  # type: ignore[misc]


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, max_memory: int) -> None:
        to_worker_read, to_worker_write = os.pipe()
        from_worker_read, from_worker_write = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "safetymonth.validator.worker", str(to_worker_read),
                 str(from_worker_write), str(max_memory)],
                pass_fds=(to_worker_read, from_worker_write), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env)
        except OSError:
            os.close(to_worker_write)
            os.close(from_worker_read)
            raise
        finally:  # the child's ends: the worker holds its own copies
            os.close(to_worker_read)
            os.close(from_worker_write)
        self.requests = Connection(to_worker_write, readable=False)
        self.replies = Connection(from_worker_read, writable=False)
        if not self.replies.poll(STARTUP_TIMEOUT) or self.replies.recv() != READY:
            self.kill()
            raise RuntimeError("the probe worker did not start")

    def call(self, task: Callable[..., Any], args: tuple[Any, ...],
             timeout: float) -> tuple[str, Any]:
        """The worker's (status, value) for ``task(*args)``; raises :class:`Overrun`."""
        try:
            self.requests.send((task, args, timeout))
            if not self.replies.poll(timeout):
                raise Overrun("timeout")
            status, value = self.replies.recv()
        except (EOFError, OSError) as error:  # killed by the kernel, or aborted
            raise Overrun("died") from error
        if status == "overrun":
            raise Overrun(value)
        return status, value

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.requests.close()
        self.replies.close()


class Pool:
    """Up to ``size`` workers with the same memory cap; thread-safe."""

    def __init__(self, size: int, max_memory: int) -> None:
        self.size, self.max_memory = size, max_memory
        # None in the queue: a warm start that failed (see _add_idle).
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._starting = 0  # workers warm() is starting
        self._waiting = 0  # callers waiting for one of those

    def run(self, task: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
        with self._slots:
            worker = self._take()
            try:
                status, value = worker.call(task, args, timeout)
            except BaseException:  # an overrun, or interrupted with a reply still pending
                self._discard(worker)  # its replacement starts when next needed
                raise
            self._idle.put(worker)
        if status == "error":  # a bug in our own probe code, reported like one in-process
            raise RuntimeError(f"probe worker: {value}")
        return value  # type: ignore[no-any-return]

    def warm(self, count: int = 1) -> None:
        """Start the workers missing for ``count`` (at most the pool's size; those started or
        being started count, busy or idle) side by side, in the background. Counted before
        this returns: a file checked meanwhile waits for one of them instead of starting a
        worker of its own (used by :func:`prestart`)."""
        with self._lock:
            missing = min(count, self.size) - len(self._all) - self._starting
            self._starting += max(0, missing)
        for _ in range(missing):
            threading.Thread(target=self._add_idle, name="probe-worker-start",
                             daemon=True).start()

    def _add_idle(self) -> None:
        try:
            worker: _Worker | None = _Worker(self.max_memory)
        except (OSError, RuntimeError):
            worker = None  # started again when used
        with self._lock:
            self._starting -= 1
            kept = worker is not None and len(self._all) < self.size
            if kept:
                self._all.add(worker)  # type: ignore[arg-type]
        if not kept and worker is not None:
            worker.kill()  # the pool is full: no more workers than its size
        self._idle.put(worker if kept else None)  # None wakes a caller waiting for it

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = self._await_warm()
                if worker is None:
                    return self._start()
            if worker is None:  # a warm start that failed: nobody was waiting for it
                continue
            if worker.alive():
                return worker
            self._discard(worker)

    def _await_warm(self) -> _Worker | None:
        """A worker :meth:`warm` is starting and no other caller waits for, or None."""
        with self._lock:
            if self._waiting >= self._starting:
                return None
            self._waiting += 1
        try:
            return self._idle.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            return None
        finally:
            with self._lock:
                self._waiting -= 1

    def _start(self) -> _Worker:
        worker = _Worker(self.max_memory)
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def pids(self) -> list[int]:
        """The process ids of the workers started and not discarded."""
        with self._lock:
            return sorted(worker.process.pid for worker in self._all)

    def close(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()


_lock = threading.Lock()
_pool: Pool | None = None
_owner = 0  # the pid that made _pool: a forked child must not share its pipes
_size = os.cpu_count() or 1


def run(task: Callable[..., T], args: tuple[Any, ...], limits: ProbeLimits) -> T:
    """``task(*args)`` in a sandboxed worker; raises :class:`Overrun`."""
    return _current(limits.max_memory).run(task, args, limits.timeout)


def prestart(limits: ProbeLimits, workers: int = 1) -> None:
    """Start ``workers`` workers (at most the pool's size) in the background now, so that
    the first files checked do not wait for their start (Pillow, MediaInfo and PyAV imported:
    a few tenths of a second each): intake calls this before it fetches (``workers=2`` when
    it will check several files with :func:`~safetymonth.validator.parallel.check_files`).
    A worker that fails to start here is started again when used."""
    _current(limits.max_memory).warm(workers)


def pool_size() -> int:
    """How many workers may run at once: one per core unless ``validate --jobs`` said."""
    return _size


def set_size(size: int) -> None:
    """How many workers may run at once (``validate --jobs``); applies to the next pool."""
    global _size
    with _lock:
        if size != _size:
            _size = max(1, size)
            _replace(None)


def _current(max_memory: int) -> Pool:
    global _pool, _owner
    with _lock:
        if _pool is None or _owner != os.getpid() or _pool.max_memory != max_memory:
            _replace(Pool(_size, max_memory))
        assert _pool is not None
        return _pool


def _replace(pool: Pool | None) -> None:
    global _pool, _owner
    if _pool is not None and _owner == os.getpid():
        _pool.close()
    _pool, _owner = pool, os.getpid()


def shutdown() -> None:
    """Stop every worker of this process's pool (also run at exit)."""
    with _lock:
        _replace(None)


def current_pool() -> Pool | None:
    """The pool in use, if any (for tests and the benchmark)."""
    return _pool if _owner == os.getpid() else None


atexit.register(shutdown)
