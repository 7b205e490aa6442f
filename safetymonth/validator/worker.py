"""A sandboxed probe worker: ``python -m safetymonth.validator.worker IN_FD OUT_FD MAX_MEMORY``.

Started and fed by :mod:`safetymonth.validator.sandbox`. It caps its own address space before
it imports a parser, then runs one task at a time: ``(function, args, timeout)`` in, ``(status,
value)`` out. Besides the parent's wall-clock limit it sets a CPU-time limit per task, so a
parser spinning in a worker whose parent died is still stopped by the kernel.
"""

from __future__ import annotations

import resource
import signal
import sys
from multiprocessing.connection import Connection

from safetymonth.validator.sandbox import READY


def _within_hard(limit: int, value: int) -> tuple[int, int]:
    """(soft, hard) for ``value``, never above a hard limit the worker was started with (a
    process may lower its hard limits, never raise them)."""
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    return value, hard


def _cap_memory(max_memory: int) -> None:
    soft, _ = _within_hard(resource.RLIMIT_AS, max_memory)
    resource.setrlimit(resource.RLIMIT_AS, (soft, soft))  # the hard limit too: for good


def _cap_cpu(timeout: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    resource.setrlimit(resource.RLIMIT_CPU,
                       _within_hard(resource.RLIMIT_CPU, int(spent + 2 * timeout) + 1))


def serve(requests: Connection, replies: Connection) -> None:
    # Imported here, under the cap: these are the parsers the cap is for.
    import av  # noqa: F401 (FFmpeg, for the video frame decode)

    from safetymonth.validator.formats import frame, jpeg, media, mpegstream  # noqa: F401

    try:
        _serve(requests, replies)
    except (BrokenPipeError, EOFError):  # the parent is gone (a short poll ended before this
        return  # worker was ready): nothing to answer, nobody to tell, no traceback


def _serve(requests: Connection, replies: Connection) -> None:
    replies.send(READY)
    while True:
        try:
            task, args, timeout = requests.recv()
        except EOFError:  # the parent closed the pool, or died
            return
        _cap_cpu(timeout)
        try:
            reply = ("ok", task(*args))
        except MemoryError:
            replies.send(("overrun", "memory"))
            return  # a parser's state after a failed allocation is not to be trusted
        except Exception as error:  # a bug in our own code: the parent logs it
            reply = ("error", f"{type(error).__name__}: {error}")
        replies.send(reply)


def main(argv: list[str]) -> None:
    in_fd, out_fd, max_memory = (int(value) for value in argv)
    # Ctrl-C in a terminal reaches the whole process group: the parent stops its workers
    # itself, and a worker must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _cap_memory(max_memory)
    serve(Connection(in_fd, writable=False), Connection(out_fd, readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
