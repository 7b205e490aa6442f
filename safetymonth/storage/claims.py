"""Who is working on the store: this process's identity, whether another one is alive, and
the heartbeat that keeps this one's claims alive.

A claim on a message, a reply or a source is only as good as its worker. A worker on another
host is alive while its heartbeat is younger than :data:`LEASE` (60 s), so a host that died
loses its claims within a minute. A worker on this host is alive while its process runs
(its pid with the same start time, so a reused pid is not mistaken for it): a poll killed
with kill -9 frees its claims for the next process at once.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event, Thread

from sqlalchemy import Engine, update

from safetymonth.storage.database import WRITE
from safetymonth.storage.schema import workers

log = logging.getLogger("safetymonth.storage")

LEASE = 60.0  # seconds without a heartbeat after which a worker counts as dead
HEARTBEAT = 15.0  # seconds between two heartbeats


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


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc has none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2:].split()[19]  # field 22: starttime


def alive_here(pid: int, started: str) -> bool:
    """Whether the process ``pid`` of this host, started at ``started``, still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    return not started or process_start(pid) in ("", started)


def timestamp(seconds_ago: float = 0.0) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="seconds")


class Heartbeat:
    """Renews this worker's heartbeat every :data:`HEARTBEAT` seconds on a connection of its
    own, in a daemon thread, until :meth:`stop`."""

    def __init__(self, engine: Engine, owner: str) -> None:
        self.engine = engine
        self.owner = owner
        self.stopped = Event()
        self.thread = Thread(target=self._run, name="heartbeat", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(HEARTBEAT):
            try:
                with self.engine.connect() as connection:
                    connection.info[WRITE] = True
                    with connection.begin():
                        connection.execute(update(workers).where(workers.c.owner == self.owner)
                                           .values(heartbeat_at=timestamp()))
            except Exception as error:  # the next beat tries again; the lease has slack
                log.warning("heartbeat not recorded: %s", error)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
