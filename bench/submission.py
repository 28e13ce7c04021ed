"""Submission throughput and latency through gunicorn with PostgreSQL, beside the same server's
``/healthz`` as the framework's floor, and the memory of the workers.

    .venv/bin/python bench/submission.py [--users 16] [--workers 4] [--seconds 20]
        [--submits 150] [--quick] [--json PATH]

One server (``bench/server.py``: gunicorn, sync workers, a scratch database with the demo
organisation, SMTP to a sink on loopback) and one client (locust, in a subprocess), three
phases at the same number of concurrent clients (``--users``), each client sending its next
request as soon as it has the answer to the last:

1. floor: ``GET /healthz`` for ``--seconds`` (the framework, the server and the client, no
   application work);
2. flow: people filing reports for ``--seconds``, each through every page of the form as a
   browser does (18 requests: every page opened, every answer posted, the receipt page);
3. submit: ``--submits`` reports are first taken up to the review page (not timed), then all
   are sent at once; only ``POST /melden/versturen`` is timed.

The ratio the target is about compares requests per second of the same kind: the submit step
alone (phase 3, ``POST /melden/versturen``, the request that encrypts and stores the report,
resolves its recipients, writes the audit events, the deadlines, the statistics event and the
notification, commits, and e-mails the handler) against ``GET /healthz`` (phase 1), at the same
concurrency. Target: at least 25 %. Also shown: complete reports per second (phase 2) and all
form requests per second of phase 2, both against the floor.

Memory: resident set (VmRSS from /proc) of every worker before any load, the highest seen
during the load (sampled every half second), and after it.

Everything runs on one machine, client included: the figures are those of this machine at the
load it had (in the JSON environment), not of a production server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report import Result, at_least, environment, figure, percentile, write_json  # noqa: E402
from server import LoadRun, Server, run_locust, running_server  # noqa: E402

TARGET_RATIO = 25.0  # per cent of the /healthz rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--seconds", type=int, default=20, help="length of phases 1 and 2")
    parser.add_argument("--submits", type=int, default=150, help="reports sent in phase 3")
    parser.add_argument("--quick", action="store_true", help="small and short, to check it works")
    parser.add_argument("--json", help="write the results here (bench/report.py convention)")
    args = parser.parse_args()
    if args.quick:
        args.users, args.seconds, args.submits = 8, 5, 24
    run(args.users, args.workers, args.seconds, args.submits, args.json)


class MemoryWatch:
    """The highest resident set of every worker while the block runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for pid, rss in self.server.worker_rss_kib().items():
                self.peak[pid] = max(rss, self.peak.get(pid, 0))


def run(users: int, workers: int, seconds: int, submits: int, json_path: str | None) -> None:
    began = time.perf_counter()
    with running_server(workers=workers) as server:
        before = server.worker_rss_kib()
        with MemoryWatch(server) as watch:
            floor = run_locust(server, users=users, classes=("Floor",), run_time=seconds)
            flow = run_locust(server, users=users, classes=("Reporter",), run_time=seconds)
            submit = run_locust(
                server, users=users, classes=("Submitter",), reports=submits, run_time=600
            )
        time.sleep(1)
        after = server.worker_rss_kib()
        server_errors = sum(sum(r.summary["server_errors"].values()) for r in (floor, flow, submit))
        failures = sum(r.summary["flow_failures"] for r in (flow, submit))
    results = figures(floor, flow, submit, before, watch.peak, after)
    results.append(figure("server errors (5xx) in all phases", server_errors, "requests"))
    results.append(figure("reports that failed", failures, "reports"))
    print_table(results)
    print(
        f"\n{users} concurrent clients, {workers} gunicorn sync workers; "
        f"total {time.perf_counter() - began:.0f} s"
    )
    write_json(
        json_path,
        "submission",
        results,
        environment(
            users=users,
            workers=workers,
            worker_class="sync",
            seconds=seconds,
            submits=submits,
            client="locust (FastHttpUser), same machine",
        ),
    )
    if server_errors or failures:
        sys.exit(1)


def figures(
    floor: LoadRun,
    flow: LoadRun,
    submit: LoadRun,
    before: dict[int, int],
    peak: dict[int, int],
    after: dict[int, int],
) -> list[Result]:
    floor_times = floor.summary["floor_seconds"]
    floor_rate = len(floor_times) / floor.summary["floor_span_seconds"]

    # Phase 2 from its start to its last receipt (reports under way at the end are finished).
    filing = flow.summary["filing_seconds"]
    reports = flow.summary["receipts"]
    report_rate = reports / filing
    flow_rps = (
        sum(int(r["Request Count"]) for r in flow.stats if r["Name"] != "Aggregated") / filing
    )
    flow_times = flow.summary["flow_seconds"]
    flow_submits = flow.summary["submit_seconds"]

    submit_times = submit.summary["submit_seconds"]
    submit_rate = len(submit_times) / submit.summary["submit_span_seconds"]
    ratio = 100 * submit_rate / floor_rate

    def ms(values: list[float], share: float) -> float:
        return 1000 * percentile(values, share)

    mib = 1024
    results = [
        figure("healthz rate", floor_rate, "req/s"),
        figure("healthz p50", ms(floor_times, 0.50), "ms"),
        figure("healthz p99", ms(floor_times, 0.99), "ms"),
        figure("submit step p50 (POST /melden/versturen alone)", ms(submit_times, 0.50), "ms"),
        figure("submit step p99 (POST /melden/versturen alone)", ms(submit_times, 0.99), "ms"),
        figure("submit step rate (POST /melden/versturen alone)", submit_rate, "req/s"),
        at_least("submit step rate / healthz rate", ratio, "%", TARGET_RATIO),
        figure("complete reports (18 requests each)", report_rate, "reports/s"),
        figure("complete reports / healthz rate", 100 * report_rate / floor_rate, "%"),
        figure("form requests during filing", flow_rps, "req/s"),
        figure("form requests / healthz rate", 100 * flow_rps / floor_rate, "%"),
        figure("whole report p50 (18 requests)", ms(flow_times, 0.50), "ms"),
        figure("whole report p99 (18 requests)", ms(flow_times, 0.99), "ms"),
        figure("send step p50 while others fill in forms", ms(flow_submits, 0.50), "ms"),
        figure("send step p99 while others fill in forms", ms(flow_submits, 0.99), "ms"),
        figure("reports filed in total", reports + len(submit_times), "reports"),
    ]
    for label, values in (("before", before), ("peak during", peak), ("after", after)):
        if values:
            results.append(
                figure(
                    f"worker RSS {label} load (mean)", statistics.mean(values.values()) / mib, "MiB"
                )
            )
            results.append(
                figure(f"worker RSS {label} load (max)", max(values.values()) / mib, "MiB")
            )
    growth = [after[pid] - before[pid] for pid in before if pid in after]
    if growth:
        results.append(figure("worker RSS growth after load (max)", max(growth) / mib, "MiB"))
    results.append(
        figure("workers replaced during the run", len(set(after) - set(before)), "workers")
    )
    return results


def print_table(results: list[Result]) -> None:
    width = max(len(r.metric) for r in results)
    print(f"\n{'metric':<{width}}  {'value':>10}  {'unit':<10} {'target':<10} met")
    for r in results:
        met = "" if r.met is None else ("yes" if r.met else "NO")
        print(f"{r.metric:<{width}}  {r.value:>10.1f}  {r.unit:<10} {r.target or '':<10} {met}")


if __name__ == "__main__":
    main()
