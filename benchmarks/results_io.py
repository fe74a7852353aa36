"""Saving a benchmark's measurements (one JSON file of run metadata and rows, one CSV of rows)
and printing them as a table."""

import csv
import json
import platform
import re
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (machines differ: every result records the one it ran on)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save_results(out_dir: Path, name: str, meta: dict, rows: list[dict],
                 csv_skip: tuple = ()) -> Path:
    """Write ``out_dir/name.json`` ({"meta", "rows"}) and ``out_dir/name.csv`` (the rows without
    the ``csv_skip`` columns, e.g. per-epoch lists); return the JSON path. The CPU model is added
    to ``meta``."""
    meta = {"cpu_model": cpu_model(), **meta}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    columns = [c for c in rows[0] if c not in csv_skip]
    with open(out_dir / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return json_path


_SPEC = re.compile(r"(?P<align>[<>^])?(?P<sign>[-+ ])?(?P<width>\d+)")


def print_table(rows: list[dict], columns: list[tuple]) -> None:
    """Print ``rows`` under a header and a rule, one column per (title, key, format spec) of
    ``columns``; the spec holds the alignment and width (e.g. ``"<18"``, ``">9.2f"``,
    ``"+8.3f"``), a missing or None value prints as "-"."""
    cells = []
    for title, _, spec in columns:
        match = _SPEC.match(spec)
        cells.append((f"{match['align'] or '>'}{match['width']}", spec))
    header = " ".join(format(title, plain) for (title, _, _), (plain, _) in zip(columns, cells))
    print(header)
    print("-" * len(header))
    for row in rows:
        print(" ".join(format("-", plain) if row.get(key) is None else format(row[key], spec)
                       for (_, key, _), (plain, spec) in zip(columns, cells)))
