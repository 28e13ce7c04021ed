"""Run every benchmark, print one table of the figures and write them to bench/results/.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...] [--results DIR] [--table-only]

Each benchmark runs as a subprocess with ``--json DIR/<name>.json`` (its own table goes by on
the terminal as it runs); then one summary table (benchmark, metric, value, unit, target,
met) is printed and written to ``DIR/summary.json``. Without ``--quick`` the benchmarks run at
full size (100,000 cases, 1,000,000 stat events, 100,000 key slots), which takes a good while;
``--quick`` runs them small to check they work. The exit status is 1 when a benchmark failed
or a target was missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    full: tuple[str, ...] = ()  # arguments at full size (most scripts default to it)
    quick: tuple[str, ...] = ()  # arguments for --quick

    @property
    def script(self) -> Path:
        return HERE / f"{self.name}.py"


# In this order: the submission figures come first so that the encryption benchmark can say
# what share of a submission the cryptography is.
BENCHMARKS = (
    Benchmark("submission", quick=("--quick",)),
    Benchmark("encryption", quick=("--cases", "300", "--stored", "50")),
    Benchmark("inbox", quick=("--cases", "10000", "--requests", "50")),
    Benchmark("stats_dashboard", quick=("--events", "100000", "--requests", "50")),
    Benchmark("retention_sweep", quick=("--cases", "10000")),
    Benchmark("key_rotation", quick=("--slots", "20000")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check they work")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[b.name for b in BENCHMARKS])
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="run nothing: the table and summary.json from the JSON files already there",
    )
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    if args.table_only:
        runs = [collected(benchmark, args.results) for benchmark in chosen]
    else:
        runs = [run(benchmark, args.results, args.quick) for benchmark in chosen]
    summary = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "benchmarks": runs,
        "all_met": all(
            r["status"] in ("ok", "absent") and all(x.get("met") is not False for x in r["results"])
            for r in runs
        ),
    }
    (args.results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(runs)
    print(f"\nwritten: {args.results / 'summary.json'}")
    sys.exit(0 if summary["all_met"] else 1)


def run(benchmark: Benchmark, results: Path, quick: bool) -> dict[str, Any]:
    """Run one benchmark script; its JSON, or what went wrong."""
    record: dict[str, Any] = {"name": benchmark.name, "results": [], "environment": {}}
    if not benchmark.script.exists():
        print(f"\n=== {benchmark.name}: {benchmark.script.name} is not there, left out")
        return record | {"status": "absent", "seconds": 0}
    target = results / f"{benchmark.name}.json"
    target.unlink(missing_ok=True)  # never report the figures of an earlier run
    arguments = list(benchmark.quick if quick else benchmark.full)
    if benchmark.name == "encryption" and (results / "submission.json").exists():
        arguments += ["--submission-json", str(results / "submission.json")]
    command = [sys.executable, str(benchmark.script), *arguments, "--json", str(target)]
    print(f"\n=== {benchmark.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    returncode = subprocess.call(command, cwd=HERE.parent)
    seconds = round(time.perf_counter() - started, 1)
    if returncode != 0 or not target.exists():
        print(f"=== {benchmark.name} FAILED (exit status {returncode})", flush=True)
        return record | {"status": "failed", "returncode": returncode, "seconds": seconds}
    document = json.loads(target.read_text())
    return record | {
        "status": "ok",
        "seconds": seconds,
        "results": document.get("results", []),
        "environment": document.get("environment", {}),
    }


def collected(benchmark: Benchmark, results: Path) -> dict[str, Any]:
    """The JSON an earlier run left, as ``run`` would have returned it."""
    target = results / f"{benchmark.name}.json"
    if not target.exists():
        return {"name": benchmark.name, "results": [], "environment": {}, "status": "absent"}
    document = json.loads(target.read_text())
    return {
        "name": benchmark.name,
        "status": "ok",
        "seconds": None,
        "results": document.get("results", []),
        "environment": document.get("environment", {}),
    }


def print_table(runs: list[dict[str, Any]]) -> None:
    rows = [("benchmark", "metric", "value", "unit", "target", "met")]
    for record in runs:
        if record["status"] != "ok":
            rows.append((record["name"], record["status"].upper(), "", "", "", ""))
            continue
        for result in record["results"]:
            met = result.get("met")
            rows.append(
                (
                    record["name"],
                    str(result["metric"]),
                    _number(result["value"]),
                    str(result.get("unit") or ""),
                    str(result.get("target") or ""),
                    "" if met is None else ("yes" if met else "NO"),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2}  # numbers right-aligned
    print()
    for number, row in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


if __name__ == "__main__":
    main()
