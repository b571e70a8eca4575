"""The append-only leaderboard store: one JSON line per finished job in ``*.jsonl`` files under a folder.

A line is written whole with one ``os.write`` on an ``O_APPEND`` descriptor, then fsync'd, so a crash
(even ``kill -9``) leaves at most one torn line, at the end of a file. Readers skip a line that does not
parse; the next writer first ends such a torn tail with a newline so its own line stays whole. A job is
identified by ``JOB_KEY``; a re-run asks ``done_keys()`` and runs only the others, so nothing is lost
or repeated. Run records (arguments, environment) go to ``runs.jsonl`` beside the rows.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Iterator

JOB_KEY = ("suite", "instance", "method", "time_limit", "seed")
RUNS_FILE = "runs.jsonl"


def job_key(row: dict) -> tuple:
    """The identity of a job: (suite, instance, method, time limit as float, seed)."""
    return (row["suite"], row["instance"], row["method"], float(row["time_limit"]), int(row["seed"]))


def _plain(value):
    """JSON-ready: numpy scalars / arrays to Python numbers / lists, non-finite floats to None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line, durably: a single write of the whole line, then fsync."""
    data = (json.dumps(_plain(record), separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:  # a torn last line (killed mid-write) is closed off so this record starts a line of its own
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = b"\n" + data
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: str | os.PathLike) -> Iterator[dict]:
    """The records of one JSONL file, skipping torn or blank lines."""
    with open(path, "rb") as f:
        for line in f:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                yield record


class ResultStore:
    """Leaderboard rows under ``folder``: ``<suite>.jsonl`` per suite, plus ``runs.jsonl`` for run records."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, suite: str) -> Path:
        """The file a suite's rows are appended to (unsafe characters in the name become ``_``)."""
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", suite) + ".jsonl")

    def append(self, row: dict) -> None:
        """Store one finished job's row."""
        self.folder.mkdir(parents=True, exist_ok=True)
        append_line(self.path(row["suite"]), row)

    def add_run(self, record: dict) -> None:
        """Store a run record (arguments, environment) in ``runs.jsonl``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        append_line(self.folder / RUNS_FILE, record)

    def rows(self, suite: str | None = None) -> list[dict]:
        """Every stored row (of ``suite`` only, if given), first copy of each job, in file order."""
        files = [self.path(suite)] if suite is not None else sorted(
            p for p in self.folder.glob("*.jsonl") if p.name != RUNS_FILE)
        seen, out = set(), []
        for path in files:
            if not path.exists():
                continue
            for row in read_lines(path):
                if not all(k in row for k in JOB_KEY) or (suite is not None and row["suite"] != suite):
                    continue
                key = job_key(row)
                if key not in seen:
                    seen.add(key)
                    out.append(row)
        return out

    def runs(self) -> list[dict]:
        """The run records, oldest first."""
        path = self.folder / RUNS_FILE
        return list(read_lines(path)) if path.exists() else []

    def done_keys(self, suite: str | None = None) -> set[tuple]:
        """The ``job_key`` of every stored row: jobs a re-run skips."""
        return {job_key(r) for r in self.rows(suite)}
