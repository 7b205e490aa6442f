"""Who is working on the store: this process's identity, whether another one is alive, and
the heartbeat that keeps this one's claims alive.

A claim on a message, a reply or a source is only as good as its worker. A worker on another
host is alive while its heartbeat is younger than :data:`LEASE` (60 s), so a host that died
loses its claims within a minute. A worker on this host is alive while its process runs
(its pid with the same start time, so a reused pid is not mistaken for it, and not a zombie):
a poll killed with kill -9 frees its claims for the next process at once, collected by its
parent or not.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event, Thread

from sqlalchemy import Connection, Engine, bindparam, update

from safetymonth.storage.database import WRITE
from safetymonth.storage.schema import workers

log = logging.getLogger("safetymonth.storage")

LEASE = 60.0  # seconds without a heartbeat after which a worker counts as dead
HEARTBEAT = 15.0  # seconds between two heartbeats
CHECK = 1.0  # seconds between two looks of the heartbeat thread at whether one is due
_BEAT = update(workers).where(workers.c.owner == bindparam("me")).values(
    heartbeat_at=bindparam("now"))


@dataclass(frozen=True)
class Identity:
    owner: str  # unique per process run
    host: str
    pid: int
    started: str


def this_process() -> Identity:
    pid = os.getpid()
    return Identity(f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:12]}",
                    socket.gethostname(), pid, process_start(pid))


# States of /proc/PID/stat of a process that has ended: a zombie (killed or exited, not yet
# collected by its parent) and a dead one. Its pid still answers kill(pid, 0).
ENDED = frozenset({"Z", "X", "x"})


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc has none)."""
    return _stat(pid)[1]


def _stat(pid: int) -> tuple[str, str]:
    """(state, start time) of a process from /proc ('' for each where /proc has none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", ""
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], fields[19]  # fields 3 and 22: state, starttime


def alive_here(pid: int, started: str) -> bool:
    """Whether the process ``pid`` of this host, started at ``started``, still runs. A
    zombie does not: a poll killed by a supervisor that has not collected it yet is dead,
    and its claims are taken over at once rather than when its lease runs out."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    state, start = _stat(pid)
    if state in ENDED:
        return False
    return not started or start in ("", started)


def timestamp(seconds_ago: float = 0.0) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="seconds")


class Heartbeat:
    """Renews this worker's heartbeat every :data:`HEARTBEAT` seconds, until :meth:`stop`.

    The process's own write transactions carry it (:meth:`record` before their commit) when
    one is due; a daemon thread writes it on a connection of its own only while the process
    is not writing (``busy``). On SQLite the thread would otherwise compete for the write
    lock with its own process: a poll commits transaction after transaction, and SQLite's
    busy handler (sleep and retry) lets the thread miss every gap between two of them until
    its timeout, "database is locked", although nothing was wrong."""

    def __init__(self, engine: Engine, owner: str, busy: Callable[[], bool]) -> None:
        self.engine = engine
        self.owner = owner
        self.busy = busy
        self.last = time.monotonic()  # registered just now
        self.stopped = Event()
        self.thread = Thread(target=self._run, name="heartbeat", daemon=True)
        self.thread.start()

    def due(self) -> bool:
        return time.monotonic() - self.last >= HEARTBEAT

    def record(self, connection: Connection) -> None:
        """The heartbeat, in ``connection``'s transaction; call :meth:`recorded` once it
        committed."""
        connection.execute(_BEAT, {"me": self.owner, "now": timestamp()})

    def recorded(self) -> None:
        self.last = time.monotonic()

    def _run(self) -> None:
        while not self.stopped.wait(CHECK):
            if not self.due() or self.busy():
                continue  # the process's next commit records it
            try:
                with self.engine.connect() as connection:
                    connection.info[WRITE] = True
                    with connection.begin():
                        self.record(connection)
                self.recorded()
            except Exception as error:  # the next look tries again; the lease has slack
                if time.monotonic() - self.last >= LEASE / 2:
                    log.warning("heartbeat not recorded for %.0f s: %s",
                                time.monotonic() - self.last, error)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
