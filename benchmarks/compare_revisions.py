"""CPU speed of this checkout against an earlier revision: the same benchmarks, in one run.

The earlier revision defaults to 0d3caf8 (bandts 0.1.0). Each round runs every benchmark once
per version, base and current back to back (the first of the two alternates between rounds), so
slow spells of a shared machine hit both versions alike:

- ``bench_conv`` (forward+backward of the band-limited conv1d / conv2d against torch's conv, its
  own ``--rounds 5`` interleaved rounds): one row per layer shape x compress rate;
- ``bench_fcn_training`` (median epoch time of BandLimitedFCN against sktime's
  FCNClassifierTorch, ``--epochs 5``, seed 0 in every round, so every round trains the same
  models): one row per dataset x configuration.

Every benchmark run is a subprocess with ``PYTHONPATH`` set to that version's source tree (checked
before timing: ``import bandts`` must find that tree's package, not an installed one). The base
revision is unpacked with ``git archive`` into ``$XDG_CACHE_HOME/bandts/revisions/<hash>`` (default
``~/.cache``) and reused by later runs; the repository and its worktrees are not touched.

Each version runs its own copy of the benchmark scripts. The current scripts cannot run against
0.1.0: bench_fcn_training imports ``bandts.classification`` and ``bandts.nn.memory``, which 0.1.0
calls ``bandts.classifier`` and ``bandts._memory``. Between 0d3caf8 and the commit that added
this script those two imports are the only changes to either script (bench_conv is identical), so
both versions time the same work; the results record every changed line of the scripts
(``script_changes``) so that a comparison with another base can be checked the same way.

Per row and version: the medians over rounds of the bandts time (bench_conv: ms per
forward+backward; bench_fcn_training: seconds per epoch), of the baseline's time (torch's conv;
sktime's FCN) and of their ratio as the benchmark computes it; current/base time is the median over
rounds of current time / base time of the same round. A ratio against the baseline cancels most of
the machine's speed; current/base time does not, but its two runs were next to each other.

Usage:
    python benchmarks/compare_revisions.py [--base 0d3caf8] [--rounds 5] [--threads 2] [--quick]

``--quick``: 3 rounds (unless ``--rounds``), bench_conv's three-shape ``--quick`` set and
bench_fcn_training on GunPoint with sktime and fft-0.5 only. ``--benchmarks`` runs a subset.
Measured: ``--quick --rounds 1 --threads 2`` took 2.6 minutes on a 2-core machine that other
jobs kept busy (load average 1.5 to 4).

Results: a table and ``benchmarks/results/compare_revisions.{json,csv}`` (``--out``), with both
revisions' hashes, the torch version, threads, rounds and the CPU model.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from results_io import print_table, save_results
from timing_cli import timing_parser

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bandts" / "revisions"
VERSIONS = ("base", "current")
BENCHMARKS = ("bench_conv", "bench_fcn_training")
FCN_FULL = {"datasets": ["FiftyWords", "ECG200", "GunPoint"],
            "configs": ["sktime", "direct", "fft-0", "fft-0.5", "fft-0.75"]}
FCN_QUICK = {"datasets": ["GunPoint"], "configs": ["sktime", "fft-0.5"]}


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def base_tree(revision: str) -> Path:
    """The source tree of ``revision`` (a full hash), unpacked once into the cache."""
    target = CACHE / revision
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # Unpack beside the target and rename: an interrupted unpack is never taken for a tree.
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(staging)], input=archive, check=True)
        staging.rename(target)
    return target


def script_changes(revision: str, script: str) -> list[str]:
    """The lines of ``benchmarks/<script>.py`` that differ between ``revision`` and the working
    tree (``git diff -U0`` without its file headers)."""
    diff = git("diff", "--unified=0", revision, "--", f"benchmarks/{script}.py")
    return [line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def version_env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


def check_imports_from(tree: Path) -> None:
    """Fail unless a process started as the benchmarks are imports bandts from ``tree``: an
    installed (or editable) bandts answering instead would time the same code twice."""
    found = subprocess.run([sys.executable, "-c", "import bandts; print(bandts.__file__)"],
                           cwd=tree / "benchmarks", env=version_env(tree), capture_output=True,
                           text=True, check=True).stdout.strip()
    if Path(found).resolve().parent != (tree / "bandts").resolve():
        raise RuntimeError(f"PYTHONPATH={tree} imports bandts from {found}")


def benchmark_args(name: str, args) -> list[str]:
    common = ["--threads", str(args.threads)]
    if name == "bench_conv":
        return common + ["--rounds", str(args.bench_rounds)] + (["--quick"] if args.quick else [])
    fcn = FCN_QUICK if args.quick else FCN_FULL
    return common + ["--epochs", str(args.epochs), "--seeds", "0", "--datasets", *fcn["datasets"],
                     "--configs", *fcn["configs"]]


def run_benchmark(tree: Path, name: str, arguments: list[str], out_dir: Path) -> list[dict]:
    """Run ``tree``'s copy of benchmark ``name`` against ``tree``'s bandts; return its rows."""
    done = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / f"{name}.py"), *arguments, "--out",
         str(out_dir)], cwd=tree / "benchmarks", env=version_env(tree), capture_output=True,
        text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads((out_dir / f"{name}.json").read_text())["rows"]


def conv_records(rows: list[dict]) -> list[dict]:
    """bench_conv rows -> one record per (shape, length, rate): bandts and torch conv times (ms)."""
    torch_ms = {(r["shape"], r["length"]): r["median_ms"]
                for r in rows if r["variant"] == "torch conv"}
    return [{"benchmark": "bench_conv", "unit": "ms",
             "row": f"{r['shape']} L={r['length']} {r['variant'].removeprefix('bandts ')}",
             "time": r["median_ms"], "baseline_time": torch_ms[r["shape"], r["length"]],
             "ratio": r["time_vs_torch"]}
            for r in rows if r["variant"] != "torch conv"]


def fcn_records(rows: list[dict]) -> list[dict]:
    """bench_fcn_training rows -> one record per (dataset, bandts configuration): seconds per
    epoch of it and of sktime's FCN."""
    sktime = {r["dataset"]: r["epoch_seconds"] for r in rows if r["config"] == "sktime"}
    return [{"benchmark": "bench_fcn_training", "unit": "s/epoch",
             "row": f"{r['dataset']} {r['config']}", "time": r["epoch_seconds"],
             "baseline_time": sktime[r["dataset"]], "ratio": r["epoch_time_ratio"]}
            for r in rows if r["config"] != "sktime"]


RECORDS = {"bench_conv": conv_records, "bench_fcn_training": fcn_records}


def aggregate(records: list[dict]) -> list[dict]:
    """One row per (benchmark, row) from records tagged with ``version`` and ``round``: per
    version the medians over rounds of time, baseline_time and ratio (the per-round ratios kept
    in ``<version>_ratio_rounds``); current_vs_base_time is the median over the rounds that ran
    both versions of current time / base time."""
    groups = {}
    for record in records:
        groups.setdefault((record["benchmark"], record["row"]), []).append(record)
    rows = []
    for (benchmark, label), group in groups.items():
        row = {"benchmark": benchmark, "row": label, "unit": group[0]["unit"]}
        times = {}
        for version in VERSIONS:
            runs = sorted((r for r in group if r["version"] == version), key=lambda r: r["round"])
            for field in ("time", "baseline_time", "ratio"):
                row[f"{version}_{field}"] = statistics.median(r[field] for r in runs)
            row[f"{version}_ratio_rounds"] = [r["ratio"] for r in runs]
            times[version] = {r["round"]: r["time"] for r in runs}
        quotients = [times["current"][n] / base for n, base in times["base"].items()
                     if n in times["current"]]
        row["current_vs_base_time"] = statistics.median(quotients)
        row["current_vs_base_time_rounds"] = quotients
        rows.append(row)
    return rows


TABLE = [("benchmark", "benchmark", "<18"), ("row", "row", "<30"), ("unit", "unit", "<7"),
         ("base t", "base_time", ">8.3g"), ("cur t", "current_time", ">8.3g"),
         ("base ratio", "base_ratio", ">10.3f"), ("cur ratio", "current_ratio", ">9.3f"),
         ("cur/base t", "current_vs_base_time", ">10.3f")]


def run_rounds(trees: dict, args, out_dir: Path) -> list[dict]:
    """All rounds; each benchmark runs for both versions back to back, the first alternating."""
    records = []
    for n in range(args.rounds):
        order = VERSIONS if n % 2 == 0 else VERSIONS[::-1]
        for name in args.benchmarks:
            for version in order:
                start = time.perf_counter()
                run_dir = out_dir / f"{n}-{version}-{name}"
                rows = run_benchmark(trees[version], name, benchmark_args(name, args), run_dir)
                records += [dict(r, version=version, round=n) for r in RECORDS[name](rows)]
                print(f"round {n + 1}/{args.rounds} {version:<7} {name}: "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    return records


def main() -> None:
    parser = timing_parser(__doc__.splitlines()[0])
    parser.set_defaults(rounds=None)
    parser.add_argument("--base", default="0d3caf8", help="revision to compare with (0.1.0)")
    parser.add_argument("--quick", action="store_true", help="small shapes and GunPoint only")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS)
    parser.add_argument("--bench-rounds", type=int, default=5, help="bench_conv's own --rounds")
    parser.add_argument("--epochs", type=int, default=5, help="bench_fcn_training's --epochs")
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.quick else 5)
    base = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    trees = {"base": base_tree(base), "current": REPO}
    for tree in trees.values():
        check_imports_from(tree)
    changes = {name: script_changes(base, name) for name in args.benchmarks}
    print(f"base {base} in {trees['base']}; script lines that differ: {changes}")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as out_dir:
        rows = aggregate(run_rounds(trees, args, Path(out_dir)))
    print_table(rows, TABLE)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "base": args.base,
            "base_revision": base, "current_revision": git("rev-parse", "HEAD"),
            "current_uncommitted_changes": bool(git("status", "--porcelain", "--", "bandts",
                                                    "benchmarks/*.py")),
            "torch": torch.__version__, "threads": args.threads, "rounds": args.rounds,
            "bench_conv_rounds": args.bench_rounds, "epochs": args.epochs, "quick": args.quick,
            "cpu_count": os.cpu_count(), "load_average_start": load_start,
            "load_average_end": os.getloadavg(), "script_changes": changes}
    path = save_results(args.out, "compare_revisions", meta, rows,
                        csv_skip=("base_ratio_rounds", "current_ratio_rounds",
                                  "current_vs_base_time_rounds"))
    print(f"\nwrote {path} and .csv")


if __name__ == "__main__":
    main()
