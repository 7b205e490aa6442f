"""Repositories for request handlers. A :class:`Repository` is one connection and not
thread-safe, so each call borrows one from a small pool, in a worker thread: the event loop
never waits on the database, and each transaction is one short call (the poller is never
held up by a page)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from safetymonth.config import Config
from safetymonth.storage.repository import Repository, open_repository

T = TypeVar("T")


class RepositoryPool:
    def __init__(self, config: Config, size: int = 4) -> None:
        self.config = config
        self._idle: queue.LifoQueue[Repository] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[Repository] = []
        self._lock = threading.Lock()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(repository, *args)`` in a worker thread, on a borrowed repository."""
        return await run_in_threadpool(self.call, work, *args)

    def call(self, work: Callable[..., T], *args: Any) -> T:
        with self._slots:
            try:
                repository = self._idle.get_nowait()
            except queue.Empty:
                repository = open_repository(self.config)
                with self._lock:
                    self._all.append(repository)
            try:
                return work(repository, *args)
            finally:
                self._idle.put(repository)

    def close(self) -> None:
        with self._lock:
            for repository in self._all:
                repository.close()
            self._all.clear()
