"""Saving a benchmark's measurements: one JSON file (run metadata and rows) and one CSV (rows)."""

import csv
import json
import platform
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
