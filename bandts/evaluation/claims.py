"""Claims: which driver is fitting which task, so that drivers sharing a store share its grid.

Before a driver starts a fit it claims the task in the store's ``claims`` table, in one
transaction that also checks the results: a task already finished, or claimed by another driver
that is still alive, is skipped. The claim is released when the fit's rows are written. Two
``bandts evaluate`` runs on one store therefore split the grid between them instead of both
running every fit.

A claim names its owner (host, process id and process start time) and carries a heartbeat that a
background thread of the driver renews. A claim is stale, and free to take, when its owner runs
on this host and is gone (a driver killed with ``kill -9`` leaves its claims behind), or when its
heartbeat is older than the lease (owners on other hosts cannot be checked).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bandts.evaluation.grid import FitTask

LEASE_SECONDS = 600.0
CLAIMS_TABLE = "claims"
CLAIMS_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (dataset TEXT NOT NULL, "
                 "config TEXT NOT NULL, seed INTEGER NOT NULL, owner TEXT NOT NULL, "
                 "heartbeat REAL NOT NULL, PRIMARY KEY (dataset, config, seed))")


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` as Linux reports it (clock ticks after boot), or None
    where /proc is not available. With the pid it identifies a process: pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # field 22 of stat; fields 1-2 end at ")"


@dataclass(frozen=True)
class Owner:
    """The driver process holding claims: host name, process id and process start time."""

    host: str
    pid: int
    started: str

    @classmethod
    def this_process(cls) -> "Owner":
        started = _start_time(os.getpid()) or f"t{time.time():.6f}"
        return cls(socket.gethostname(), os.getpid(), started)

    def text(self) -> str:
        return f"{self.host}|{self.pid}|{self.started}"

    @classmethod
    def parse(cls, text: str) -> "Owner":
        host, pid, started = text.rsplit("|", 2)
        return cls(host, int(pid), started)

    def is_gone(self) -> bool:
        """True if this owner runs on this host and has exited (False when unknown)."""
        if self.host != socket.gethostname():
            return False
        started = _start_time(self.pid)
        if started is not None:
            return started != self.started
        if os.name == "nt":  # os.kill would terminate the process there: rely on the lease
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


def _is_stale(owner_text: str, heartbeat: float, lease: float) -> bool:
    if time.time() - heartbeat > lease:
        return True
    try:
        return Owner.parse(owner_text).is_gone()
    except ValueError:  # not an owner bandts wrote
        return True


def claim(connection: sqlite3.Connection, task: FitTask, owner: Owner, *, include_errors: bool,
          lease: float = LEASE_SECONDS) -> tuple[str, FitTask | None]:
    """Try to claim ``task``; returns ("claimed", the task reduced to its unfinished inference
    settings), ("done", None) if the store holds all its rows, or ("busy", None) if another live
    driver holds it. Finished rows are the successful ones, and the failed ones too if
    ``include_errors``."""
    key = (task.dataset, task.configuration.name, task.seed)
    connection.execute("BEGIN IMMEDIATE")
    try:
        status = "" if include_errors else " AND status = 'ok'"
        finished = {row[0] for row in connection.execute(
            f"SELECT inference FROM results WHERE dataset = ? AND config = ? AND seed = ?{status}",
            key)}
        remaining = tuple(i for i in task.inferences if i.name not in finished)
        if not remaining:
            connection.execute("COMMIT")
            return "done", None
        held = connection.execute(
            f"SELECT owner, heartbeat FROM {CLAIMS_TABLE} WHERE dataset = ? AND config = ? AND "
            "seed = ?", key).fetchone()
        if held is not None and held[0] != owner.text() and not _is_stale(*held, lease):
            connection.execute("COMMIT")
            return "busy", None
        connection.execute(
            f"INSERT INTO {CLAIMS_TABLE} VALUES (?, ?, ?, ?, ?) ON CONFLICT (dataset, config, "
            "seed) DO UPDATE SET owner = excluded.owner, heartbeat = excluded.heartbeat",
            key + (owner.text(), time.time()))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return "claimed", FitTask(task.dataset, task.configuration, task.seed, remaining)


def release(connection: sqlite3.Connection, owner: Owner, task: FitTask | None = None) -> None:
    """Drop ``owner``'s claim on ``task`` (all its claims if ``task`` is None)."""
    if task is None:
        connection.execute(f"DELETE FROM {CLAIMS_TABLE} WHERE owner = ?", (owner.text(),))
    else:
        connection.execute(
            f"DELETE FROM {CLAIMS_TABLE} WHERE dataset = ? AND config = ? AND seed = ? AND "
            "owner = ?", (task.dataset, task.configuration.name, task.seed, owner.text()))


class Heartbeat:
    """Renews ``owner``'s claims in the store at ``path`` every ``interval`` seconds from a
    background thread (its own connection: a SQLite connection belongs to one thread)."""

    def __init__(self, path: Path, owner: Owner, interval: float):
        self._path, self._owner, self._interval = path, owner, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bandts-claims", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        connection = sqlite3.connect(self._path, timeout=60.0, isolation_level=None)
        try:
            while not self._stop.wait(self._interval):
                try:
                    connection.execute(f"UPDATE {CLAIMS_TABLE} SET heartbeat = ? WHERE owner = ?",
                                       (time.time(), self._owner.text()))
                except sqlite3.Error:
                    pass  # a busy store: the next beat retries; the lease covers many beats
        finally:
            connection.close()
