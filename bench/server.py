"""A real server to load: gunicorn on a free loopback port, against a scratch PostgreSQL database
that is migrated, has a key store of its own and holds the demo organisation. Shared by the load
test (``tests/load``) and the submission benchmark (``bench/submission.py``).

    with running_server(workers=4) as server:
        server.url                  # http://127.0.0.1:<port>
        server.config_file          # JSON for the load clients: units, handler log-ins
        server.worker_rss_kib()     # resident memory of each worker, from /proc
        server.app()                # the same application in this process, to check results

The server runs as production does (``COMPLAINTS_ENV=production``, argon2 at its production
cost) with two differences the load needs: cookies without ``Secure`` (the clients speak plain
HTTP on loopback) and every rate limit raised far out of reach, since every client comes from
127.0.0.1. Leaving the block stops gunicorn (TERM, then KILL) and drops the database.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from complaints import create_app, db, migrate  # noqa: E402
from complaints.accounts.login import passwords  # noqa: E402
from complaints.accounts.models import Account, RoleAssignment  # noqa: E402
from complaints.accounts.services import begin_totp_enrolment  # noqa: E402
from complaints.audit.services import Actor  # noqa: E402
from complaints.crypto.keystore import LocalKeyStore  # noqa: E402
from complaints.crypto.services import keystore  # noqa: E402
from complaints.demo.services import seed_demo  # noqa: E402
from complaints.directory.models import OrgUnit  # noqa: E402
from complaints.settings import Settings  # noqa: E402

ADMIN_URL = os.environ.get(
    "COMPLAINTS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
GUNICORN = Path(sys.executable).parent / "gunicorn"
# Far beyond anything a run reaches: every client of a load test shares one address.
UNLIMITED = "10000000 per hour"
# Units the load clients report about (their ids go into the client configuration).
UNITS = ("BZK-APS", "BZK-CIO", "JENV-DRC")
SINK = "aiosmtpd.handlers.Sink"
# Who receives the reports the load clients file (bench/locustfile.py's REPORTS).
RECIPIENTS = ("i.hoekstra@bzk.example", "k.dijkstra@bzk.example", "p.vos@jenv.example")


@dataclass(frozen=True)
class StaffLogin:
    login: str
    password: str
    totp_secret: str
    roles: tuple[str, ...]


@dataclass
class Server:
    """A running gunicorn and everything it was given."""

    url: str
    database_url: str
    workers: int
    folder: Path
    environment: dict[str, str]
    process: subprocess.Popen[bytes]
    staff: list[StaffLogin]
    units: dict[str, int]
    _app: Flask | None = field(default=None, repr=False)

    @property
    def log_file(self) -> Path:
        return self.folder / "gunicorn.log"

    @property
    def config_file(self) -> Path:
        """What the load clients need: the server, unit ids, handler log-ins (no other secret)."""
        path = self.folder / "load-config.json"
        if not path.exists():
            handlers = sorted(
                (s for s in self.staff if set(s.roles) & HANDLER_ROLES),
                key=lambda s: s.login not in RECIPIENTS,  # those the reports reach first
            )
            path.write_text(
                json.dumps(
                    {
                        "url": self.url,
                        "units": self.units,
                        "handlers": [
                            {"login": s.login, "password": s.password, "totp": s.totp_secret}
                            for s in handlers
                        ],
                    },
                    indent=2,
                )
            )
            path.chmod(0o600)
        return path

    def settings(self) -> Settings:
        return _settings(self.environment)

    def app(self) -> Flask:
        """The same application (settings, database, key store) in this process."""
        if self._app is None:
            self._app = create_app(self.settings())
        return self._app

    def worker_pids(self) -> list[int]:
        return sorted(_children(self.process.pid))

    def worker_rss_kib(self) -> dict[int, int]:
        """Resident memory (VmRSS, KiB) of every live worker."""
        found = {}
        for pid in self.worker_pids():
            rss = _rss_kib(pid)
            if rss is not None:
                found[pid] = rss
        return found

    def master_rss_kib(self) -> int | None:
        return _rss_kib(self.process.pid)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


HANDLER_ROLES = {"confidant", "integrity_coordinator", "committee_secretary"}
SEEDING = {"COMPLAINTS_ENV": "testing", "COMPLAINTS_ARGON2_MEMORY_KIB": "64"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def scratch_database(admin_url: str = ADMIN_URL, prefix: str = "complaints_load") -> Iterator[str]:
    """A new, empty database on the loopback PostgreSQL (its URL), dropped afterwards."""
    admin = sa.engine.make_url(admin_url)
    if admin.host not in LOOPBACK:
        raise SystemExit(f"refusing a database that is not on this machine: {admin.host}")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def server_environment(database_url: str, folder: Path, **overrides: str) -> dict[str, str]:
    """The ``COMPLAINTS_*`` variables gunicorn gets (``overrides`` use setting names)."""
    values = {
        "env": "production",
        "secret_key": secrets.token_urlsafe(48),
        "database_url": database_url,
        "instance_path": str(folder / "instance"),
        "keystore_path": str(folder / "keys"),
        "config_dir": str(ROOT / "config"),
        "settings_file": str(folder / "no-settings.toml"),
        "public_url": "https://meldpunt.example",
        "session_cookie_secure": "false",
        "log_format": "json",
        "log_level": "WARNING",
        # Every rate limit there is (intake, receipts, log-in, search, ...), however many.
        **{name: UNLIMITED for name in Settings.model_fields if name.endswith("rate_limit")},
        "login_max_failures": "100",
        **overrides,
    }
    return {f"COMPLAINTS_{key.upper()}": value for key, value in values.items()}


def _settings(environment: dict[str, str]) -> Settings:
    values: dict[str, Any] = {
        key.removeprefix("COMPLAINTS_").lower(): value
        for key, value in environment.items()
        if key.startswith("COMPLAINTS_") and key != "COMPLAINTS_SETTINGS_FILE"
    }
    return Settings(**values)


def prepare(environment: dict[str, str]) -> tuple[list[StaffLogin], dict[str, int]]:
    """Migrate, make the key store, seed the demo organisation (as ``make run`` does), and
    enrol every account with a role in two-step verification, so clients can log in.

    The demo passwords are hashed cheaply here (34 accounts at the production cost take half
    a minute); the server rehashes a password at its own cost when its account first logs in.
    """
    settings = _settings({**environment, **SEEDING})
    now = datetime.now(UTC)
    engine = db.create_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    engine.dispose()
    LocalKeyStore.initialise(settings.resolved_keystore_path, now)
    app = create_app(settings)
    password = "load-" + secrets.token_urlsafe(18)
    staff = []
    with app.app_context():
        session = db.session()
        seed_demo(
            session, keystore(), passwords(), password=password, actor=Actor.operator(), now=now
        )
        roles: dict[int, list[str]] = {}
        for assignment in session.scalars(sa.select(RoleAssignment)):
            roles.setdefault(assignment.person_id, []).append(assignment.role.value)
        for account in session.scalars(sa.select(Account).order_by(Account.id)):
            if account.person_id not in roles:
                continue
            secret = begin_totp_enrolment(keystore(), account)
            account.totp_confirmed_at = now
            staff.append(
                StaffLogin(account.login, password, secret, tuple(roles[account.person_id]))
            )
        units = {
            unit.code: unit.id
            for unit in session.scalars(sa.select(OrgUnit).where(OrgUnit.code.in_(UNITS)))
        }
        db.commit()
    app.extensions["complaints.db"].engine.dispose()
    return staff, units


@contextmanager
def running_server(
    *,
    workers: int = 4,
    worker_class: str = "sync",
    threads: int = 1,
    admin_url: str = ADMIN_URL,
    settings: dict[str, str] | None = None,
    smtp_sink: bool = True,
    startup_seconds: float = 60.0,
) -> Iterator[Server]:
    """gunicorn with ``workers`` workers on a scratch database, ready when the block starts.

    ``settings`` override the server's settings by name (``{"log_level": "INFO"}``). With
    ``smtp_sink`` an SMTP server on loopback accepts and drops every message, so the
    notification each submission sends is really delivered, as in production.
    """
    with ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(admin_url))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="complaints-load-")))
        log = (folder / "gunicorn.log").open("wb")
        stack.callback(log.close)
        mail = {}
        if smtp_sink:
            mail = {"smtp_host": "127.0.0.1", "smtp_port": str(_start_smtp_sink(stack, log))}
        environment = server_environment(database_url, folder, **{**mail, **(settings or {})})
        staff, units = prepare(environment)
        port = free_port()
        command = [
            str(GUNICORN),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            "wsgi:app",
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**_clean_environment(), **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(
            url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            workers=workers,
            folder=folder,
            environment=environment,
            process=process,
            staff=staff,
            units=units,
        )
        stack.callback(_stop, server)
        _wait_until_ready(server, startup_seconds)
        yield server


def _start_smtp_sink(stack: ExitStack, log: Any) -> int:
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(_end, sink)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sink.poll() is not None:
            raise RuntimeError("the SMTP sink exited at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP sink did not start")


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _clean_environment() -> dict[str, str]:
    """This process's environment without settings of its own that would leak into the server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}


def _wait_until_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start-up:\n{server.log_text()[-4000:]}")
        try:
            healthz = f"{server.url}/healthz"  # http://127.0.0.1:<port>, made above
            with urllib.request.urlopen(healthz, timeout=2) as response:  # noqa: S310
                ready = response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            ready = False
        if ready and len(server.worker_pids()) == server.workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz in {timeout:.0f} s")


def _stop(server: Server) -> None:
    if server._app is not None:
        server._app.extensions["complaints.db"].engine.dispose()
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent pid follows it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == parent:
            found.add(int(entry.name))
    return found


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


LOCUST = Path(sys.executable).parent / "locust"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


@dataclass
class LoadRun:
    """What one locust run did: its summary, per-request statistics and receipts."""

    summary: dict[str, Any]
    stats: list[dict[str, str]]
    receipts: list[str]
    returncode: int
    output: str
    seconds: float

    def row(self, name: str) -> dict[str, str] | None:
        return next((r for r in self.stats if r["Name"] == name), None)


def run_locust(
    server: Server,
    *,
    users: int,
    classes: tuple[str, ...] = ("Reporter",),
    reports: int = 0,
    run_time: int = 300,
    spawn_rate: int | None = None,
) -> LoadRun:
    """Run ``bench/locustfile.py`` against ``server`` in a subprocess and collect its results.

    ``reports``: the Reporter stops starting reports after this many (0: ``run_time`` decides);
    for the Submitter, how many to prepare and send. ``run_time`` in seconds: locust stops
    then, lets reports under way finish (up to a minute), and quits.
    """
    folder = Path(tempfile.mkdtemp(prefix="locust-", dir=server.folder))
    receipts = folder / "receipts.txt"
    results = folder / "results.json"
    command = [
        str(LOCUST),
        "--headless",
        "--only-summary",
        "--skip-log-setup",
        "-f",
        str(LOCUSTFILE),
        "--host",
        server.url,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate or users),
        "--run-time",
        f"{run_time}s",
        "--stop-timeout",
        "60",
        "--csv",
        str(folder / "stats"),
        *classes,
    ]
    environment = {
        **_clean_environment(),
        "LOAD_CONFIG": str(server.config_file),
        "LOAD_REPORTS": str(reports),
        "LOAD_RECEIPTS": str(receipts),
        "LOAD_RESULTS": str(results),
    }
    began = time.perf_counter()
    finished = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=run_time + 180,
        check=False,
    )
    seconds = time.perf_counter() - began
    output = finished.stdout + finished.stderr
    if not results.exists():
        raise RuntimeError(
            f"locust wrote no results (exit {finished.returncode}):\n{output[-4000:]}"
        )
    stats_file = folder / "stats_stats.csv"
    with stats_file.open(newline="") as handle:
        stats = list(csv.DictReader(handle))
    codes = receipts.read_text().split() if receipts.exists() else []
    return LoadRun(
        summary=json.loads(results.read_text()),
        stats=stats,
        receipts=codes,
        returncode=finished.returncode,
        output=output,
        seconds=seconds,
    )


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Serve until interrupted (Ctrl-C or TERM), for trying the load by hand.
    signal.signal(signal.SIGTERM, _interrupt)
    with running_server(workers=int(os.environ.get("WORKERS", "4"))) as running:
        print(f"serving on {running.url}; client configuration in {running.config_file}")
        print(f"worker RSS (KiB): {running.worker_rss_kib()}")
        with suppress(KeyboardInterrupt):
            running.process.wait()
