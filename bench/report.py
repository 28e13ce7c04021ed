"""The result convention every benchmark follows: a human table on standard output and, with
``--json PATH``, one JSON object that ``bench/run.py`` collects::

    {"name": str,
     "results": [{"metric": str, "value": float, "unit": str, "target": str | null,
                  "met": bool | null}],
     "environment": {...}}
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Result:
    metric: str
    value: float
    unit: str
    target: str | None = None
    met: bool | None = None


def at_most(metric: str, value: float, unit: str, limit: float) -> Result:
    """A figure that should stay at or under ``limit`` (a latency)."""
    return Result(metric, round(value, 3), unit, f"<= {limit:g} {unit}", value <= limit)


def at_least(metric: str, value: float, unit: str, floor: float) -> Result:
    """A figure that should reach ``floor`` (a rate)."""
    return Result(metric, round(value, 3), unit, f">= {floor:g} {unit}", value >= floor)


def figure(metric: str, value: float, unit: str) -> Result:
    """A figure without a target."""
    return Result(metric, round(value, 3), unit)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.95 for p95) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def environment(**extra: Any) -> dict[str, Any]:
    """Where the figures were measured: machine, Python and the benchmark's own parameters."""
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        # Other work on the machine slows the figures down: the load when they were written.
        "load_average": [round(load, 2) for load in os.getloadavg()],
        **extra,
    }


def write_json(
    path: str | Path | None, name: str, results: Sequence[Result], env: dict[str, Any]
) -> None:
    """Write the results to ``path`` (nothing when no path was asked for)."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {"name": name, "results": [asdict(r) for r in results], "environment": env}
    target.write_text(json.dumps(document, indent=2) + "\n")


def postgres_version(session: Any) -> str:
    """The server version, for the environment block."""
    return str(session.execute(sa.text("SHOW server_version")).scalar())
