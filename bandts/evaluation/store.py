"""The results store: one SQLite table, one row per (dataset, config, inference, seed).

Crash safety: every :meth:`ResultStore.write` is one transaction (all rows of one fit land together
or not at all), the key is a UNIQUE constraint, and the database runs in write-ahead-log mode with
full synchronisation. A driver killed at any moment, even by ``kill -9``, leaves only committed
fits behind; re-running the grid skips them, so nothing is lost or duplicated.

Rows that failed (``status="error"``) are kept with their error text and are replaced when the
same key later succeeds; a successful row is never overwritten.

A second table holds the claims of running drivers (:mod:`bandts.evaluation.claims`), so that
drivers sharing a store split its grid. The store refuses a SQLite database of something else (one with tables but no bandts results),
so that ``--store`` pointed at the wrong file changes nothing. A store in a read-only directory
can still be read: SQLite's write-ahead log needs ``-wal`` and ``-shm`` files next to the
database, so such a store is opened read-only (see :func:`_connect_read_only`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from bandts.evaluation import claims
from bandts.evaluation.grid import Configuration, FitTask, RowKey

KEY_COLUMNS = ("dataset", "config", "inference", "seed")
# Column name -> SQLite type, in the order of the results DataFrame.
COLUMN_TYPES = {
    "dataset": "TEXT NOT NULL",
    "config": "TEXT NOT NULL",
    "seed": "INTEGER NOT NULL",
    "conv": "TEXT",
    "train_compress_rate": "REAL",
    "train_preserve_energy": "REAL",
    "inference": "TEXT NOT NULL",
    "inference_compress_rate": "REAL",
    "inference_preserve_energy": "REAL",
    "accuracy": "REAL",
    "balanced_accuracy": "REAL",
    "fit_seconds": "REAL",
    "predict_seconds": "REAL",
    "epochs": "INTEGER",
    "kept_bins": "TEXT",              # JSON {layer name: kept bins at predict}
    "saved_bytes": "INTEGER",         # bytes saved for backward in one training step, all layers
    "saved_bytes_per_layer": "TEXT",  # JSON {layer name: bytes}
    "versions": "TEXT",               # JSON {package: version}
    "status": "TEXT NOT NULL CHECK (status IN ('ok', 'error'))",
    "error": "TEXT",
    "params": "TEXT",                 # JSON of the configuration's estimator parameters
    "finished_at": "TEXT",            # UTC ISO time the row was committed (set by the store)
}
COLUMNS = tuple(COLUMN_TYPES)
ROW_COLUMNS = tuple(c for c in COLUMNS if c != "finished_at")  # what a runner supplies
_TABLE = "results"


class ResultStore:
    """A results store in the SQLite file ``path``.

    Args:
        path: database file. Created (with its parent folders) unless ``create`` is False.
        create: False to require an existing store (for reading commands).

    Raises:
        FileNotFoundError: ``create`` is False and there is no file at ``path``.
        OSError: the store cannot be created, opened or (with ``create``) written at ``path``.
        ValueError: the file is not a SQLite database, is a SQLite database of something else,
            or is not a bandts results store.

    Use as a context manager or call :meth:`close`. One object belongs to one thread.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a folder; a results store is a file, e.g. "
                                    f"{self.path / 'results.sqlite'}")
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"no results store at {self.path}; create one with "
                                    f"`bandts evaluate --store {self.path}`")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OSError(f"cannot create the results store {self.path}: "
                              f"{error.strerror or error}") from None
        try:
            self._connection = self._connect(create)
        except sqlite3.DatabaseError as error:
            raise ValueError(f"{self.path} is not a usable SQLite results store ({error})") from None

    def _connect(self, create: bool) -> sqlite3.Connection:
        connection = None
        try:
            connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            # Tables first: switching a database of something else to WAL would change it.
            self._create_or_check_tables(connection, create)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            if create:  # fail now, not after the first fit, if the store cannot be written
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
        except sqlite3.OperationalError as error:
            if connection is not None:
                connection.close()
            if create:
                raise OSError(f"cannot write the results store {self.path} ({error}); is its "
                              "folder writable?") from None
            return self._connect_read_only(error)
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return connection

    def _connect_read_only(self, error: sqlite3.OperationalError) -> sqlite3.Connection:
        """A read-only connection for a store whose folder cannot hold WAL's side files.

        With no ``-wal`` file every committed row is in the database file, which is opened as
        immutable (no side files needed). A ``-wal`` file that exists may hold committed rows,
        so it must be read through SQLite's read-only mode, which needs its ``-shm`` file.
        """
        wal = Path(f"{self.path}-wal")
        mode = "ro" if wal.exists() and wal.stat().st_size else "ro&immutable=1"
        uri = f"file:{urllib.parse.quote(str(self.path.absolute()))}?mode={mode}"
        connection = None
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
            self._create_or_check_tables(connection, create=False)
        except BaseException as second:
            if connection is not None:
                connection.close()
            if not isinstance(second, sqlite3.OperationalError):
                raise
            raise OSError(f"cannot read the results store {self.path} ({error}; read-only: "
                          f"{second}); make its folder writable or copy the store (with its -wal "
                          "and -shm files) elsewhere") from None
        return connection

    def _create_or_check_tables(self, connection: sqlite3.Connection, create: bool) -> None:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if _TABLE not in tables and tables:
            raise ValueError(f"{self.path} is a SQLite database of something else (tables "
                             f"{sorted(tables)}); bandts keeps its results in a database of its "
                             "own: give another --store path")
        columns = [row[1] for row in connection.execute(f"PRAGMA table_info({_TABLE})")]
        if not columns:
            if not create:
                raise ValueError(f"{self.path} is not a bandts results store (no table "
                                 f"{_TABLE!r})")
            definitions = ", ".join(f"{name} {kind}" for name, kind in COLUMN_TYPES.items())
            connection.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} ({definitions}, "
                               f"UNIQUE ({', '.join(KEY_COLUMNS)}))")
        elif tuple(columns) != COLUMNS:
            raise ValueError(f"{self.path} is not a bandts results store: table {_TABLE!r} has "
                             f"columns {columns}")
        if create:  # also added to stores written before claims existed
            connection.execute(claims.CLAIMS_SCHEMA)

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._connection.close()

    def write(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Commit ``rows`` in one transaction and return how many were written.

        A row whose key already holds a successful row is ignored; one whose key holds an error
        row replaces it.

        Raises:
            ValueError: a row lacks a column of :data:`ROW_COLUMNS`, has an unknown one, or a bad
                status; nothing is written then.
        """
        values = [self._row_values(row) for row in rows]
        if not values:
            return 0
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in KEY_COLUMNS)
        sql = (f"INSERT INTO {_TABLE} ({names}) VALUES ({marks}) "
               f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates} "
               f"WHERE {_TABLE}.status != 'ok'")
        before = self._connection.total_changes
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            self._connection.executemany(sql, values)
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")
        return self._connection.total_changes - before

    @staticmethod
    def _row_values(row: Mapping[str, Any]) -> tuple:
        missing = [c for c in ROW_COLUMNS if c not in row]
        unknown = [c for c in row if c not in ROW_COLUMNS]
        if missing or unknown:
            raise ValueError(f"a results row must have exactly the columns {list(ROW_COLUMNS)}; "
                             f"missing {missing}, unknown {unknown}")
        if row["status"] not in ("ok", "error"):
            raise ValueError(f"row status must be 'ok' or 'error', got {row['status']!r}")
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return tuple(_plain(row[c]) for c in ROW_COLUMNS) + (finished,)

    def finished_keys(self, *, include_errors: bool = False) -> set[RowKey]:
        """Keys of the successful rows (and of the failed ones too if ``include_errors``)."""
        where = "" if include_errors else " WHERE status = 'ok'"
        cursor = self._connection.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM {_TABLE}{where}")
        return {RowKey(*row) for row in cursor}

    def check_configurations(self, configurations: Iterable[Configuration]) -> None:
        """Raise ValueError if the store holds a successful row of one of these names with
        different parameters.

        Resuming into a store whose "c=0.5" was trained for 10 epochs with a grid whose "c=0.5"
        trains for 40 would mix two experiments under one name. Rows that failed hold no result,
        so they do not block a corrected configuration (see :meth:`discard_superseded_errors`).
        """
        stored: dict[str, set[str]] = {}
        for name, params in self._connection.execute(
                f"SELECT DISTINCT config, params FROM {_TABLE} WHERE status = 'ok'"):
            stored.setdefault(name, set()).add(params)
        for configuration in configurations:
            other = stored.get(configuration.name, set()) - {configuration.params_json()}
            if other:
                raise ValueError(
                    f"store {self.path} already holds configuration {configuration.name!r} with "
                    f"parameters {sorted(other)[0]}, not {configuration.params_json()}; use another "
                    "store or another configuration name")

    def discard_superseded_errors(self, configurations: Iterable[Configuration]) -> int:
        """Delete the failed rows of these configuration names that have other parameters (the
        configuration was corrected since); returns how many were deleted."""
        before = self._connection.total_changes
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            for configuration in configurations:
                self._connection.execute(
                    f"DELETE FROM {_TABLE} WHERE status = 'error' AND config = ? AND params != ?",
                    (configuration.name, configuration.params_json()))
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")
        return self._connection.total_changes - before

    def claim(self, task: FitTask, owner: claims.Owner, *, include_errors: bool,
              lease: float = claims.LEASE_SECONDS) -> tuple[str, FitTask | None]:
        """Claim ``task`` for ``owner`` unless it is finished or another live driver holds it
        (see :func:`bandts.evaluation.claims.claim`)."""
        return claims.claim(self._connection, task, owner, include_errors=include_errors,
                            lease=lease)

    def release(self, owner: claims.Owner, task: FitTask | None = None) -> None:
        """Drop ``owner``'s claim on ``task``, or all its claims."""
        claims.release(self._connection, owner, task)

    def __len__(self) -> int:
        return self._connection.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0]

    def to_dataframe(self, *, status: str | None = None) -> pd.DataFrame:
        """All rows (or those with ``status``) as a DataFrame with the columns :data:`COLUMNS`."""
        query = f"SELECT {', '.join(COLUMNS)} FROM {_TABLE}"
        parameters: tuple = ()
        if status is not None:
            query += " WHERE status = ?"
            parameters = (status,)
        query += f" ORDER BY {', '.join(KEY_COLUMNS)}"
        frame = pd.read_sql_query(query, self._connection, params=parameters)
        return frame.astype({"seed": "int64", "epochs": "Int64", "saved_bytes": "Int64"})

    def to_csv(self, path: str | os.PathLike, **kwargs) -> Path:
        """Write every row to a CSV file; returns its path."""
        path = Path(path)
        self.to_dataframe(**kwargs).to_csv(path, index=False)
        return path

    def to_parquet(self, path: str | os.PathLike, **kwargs) -> Path:
        """Write every row to a Parquet file (needs pyarrow: ``pip install bandts[parquet]``)."""
        try:
            import pyarrow  # noqa: F401  (pandas' Parquet engine)
        except ImportError:
            raise ImportError("Parquet export needs pyarrow; install it with "
                              "`pip install bandts[parquet]`") from None
        path = Path(path)
        self.to_dataframe(**kwargs).to_parquet(path, index=False)
        return path


def _plain(value: Any) -> Any:
    """A value SQLite stores as is: numpy scalars to Python, dicts and lists to JSON text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value
