"""Run sqlmap and wapiti against a scratch instance of the application on loopback.

``make security-scan`` runs this. It makes a scratch database (PostgreSQL on the loopback
server by default, SQLite with ``--database sqlite``) and a key store in a temporary folder,
seeds the demo organisation and one report, starts gunicorn on 127.0.0.1 on a free port with
the rate limits raised, opens sessions through the real forms (an anonymous report in
progress, a complainant's follow-up mailbox, and a confidential counsellor, an auditor and a
privacy officer, each logged in with password and TOTP), and points both scanners at them.
Raw reports go to ``build/security-scan/``; a summary is printed. The exit status is 1 when a
scanner reports a finding that is not in ``tools/security-scan-allowlist.toml`` (each entry
says why, with a reference to docs/security.md), 2 when the scan could not run as planned.

Only loopback addresses are ever a target: every URL handed to a scanner is checked, the
database server must be on this machine, and wapiti's out-of-band endpoint is pointed at a
closed loopback port (its SSRF and XXE modules, which need that endpoint, are not loaded).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ALLOWLIST = ROOT / "tools" / "security-scan-allowlist.toml"
DEFAULT_OUT = ROOT / "build" / "security-scan"
ADMIN_URL = os.environ.get(
    "COMPLAINTS_SCAN_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SQLMAP = shutil.which("sqlmap") or "/usr/bin/sqlmap"
WAPITI = shutil.which("wapiti") or "/usr/bin/wapiti"
WAPITI_PYTHON = "/usr/bin/python3"  # the interpreter Debian's wapiti runs on
VENV_BIN = Path(sys.executable).parent

# Limits high enough that the scanners measure the application, not the rate limiter (which
# has tests of its own: tests/security/test_receipt_guessing).
RAISED_LIMITS = {
    "COMPLAINTS_LOGIN_RATE_LIMIT": "100000 per minute",
    "COMPLAINTS_INTAKE_RATE_LIMIT": "100000 per hour",
    "COMPLAINTS_INTAKE_DRAFT_RATE_LIMIT": "100000 per hour",
    "COMPLAINTS_INTAKE_GLOBAL_RATE_LIMIT": "100000 per hour",
    "COMPLAINTS_RECEIPT_RATE_LIMIT": "100000 per hour",
    "COMPLAINTS_RECEIPT_GLOBAL_RATE_LIMIT": "100000 per hour",
    "COMPLAINTS_LOGIN_MAX_FAILURES": "100",
}
# wapiti modules: its defaults minus ssrf (needs an Internet endpoint) and blindsql (sqlmap's
# time-based tests do that job, against the real DBMS), plus csrf, crlf and methods. No
# brute-force, nikto or buster modules: they guess, and take long.
WAPITI_MODULES = (
    "sql,xss,permanentxss,exec,file,redirect,crlf,csrf,http_headers,cookieflags,csp,methods"
)
# Pages that would end the scanner's own session or draft: never requested.
WAPITI_EXCLUDES = (
    "/afmelden",
    "/opvolgen/sluiten",
    "/opvolgen/melding/intrekken",
    "/account/sessies-beeindigen",
    "/account/wachtwoord",
    "/melden",  # POST starts a new draft, which would end the one the scan is filling in
    "/melden/verwijderen",
    "/melden/versturen",
    "/static/*",
    "/taal",  # the language switch: the same one-field form on every page
)
CRAWL_SECONDS = 60
# Debian's wapiti 3.0.4 builds its exclusion patterns as "...\\Z(?ms)", which Python 3.11
# refuses ("global flags not at the start"), so any -x crashes it. This runs wapiti with the
# flags moved to the front; nothing else changes.
WAPITI_SHIM = """
import re, sys
import wapitiCore.net.crawler as crawler
def wildcard_translate(pattern):
    body = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("(?ms)" + body + r"\\Z")
crawler.wildcard_translate = wildcard_translate
from wapitiCore.main.wapiti import wapiti_main
sys.argv[0] = "wapiti"
sys.exit(wapiti_main())
"""
WAPITI_LEVELS = {"4": "critical", "3": "high", "2": "medium", "1": "low", "0": "info"}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOTP_KEY = re.compile(r'id="totp-key"><code>([A-Z2-7 ]+)</code>')
DEMO_CONFIDANT = "i.hoekstra@bzk.example"
DEMO_AUDITOR = "b.koster@fin.example"
DEMO_PRIVACY_OFFICER = "h.wolters@bzk.example"


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class ScanError(RuntimeError):
    """The scan could not run as planned (exit status 2)."""


# Loopback only ---------------------------------------------------------------------------------


def require_loopback(url: str) -> str:
    """Return ``url`` if its host is a loopback address; refuse anything else."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return url
    try:
        if ipaddress.ip_address(host).is_loopback:
            return url
    except ValueError:
        pass
    raise ScanError(f"refusing a target that is not a loopback address: {host or url!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The instance under test -----------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(kind: str, tmp: Path) -> Iterator[str]:
    """A database URL: a new PostgreSQL database on the loopback server, or SQLite in ``tmp``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'scan.db'}"
        return
    import sqlalchemy as sa

    admin_url = sa.engine.make_url(ADMIN_URL)
    require_loopback(f"postgresql://{admin_url.host or ''}/")
    name = f"complaints_scan_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def app_environment(database_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env.update(
        {
            "COMPLAINTS_ENV": "development",
            "COMPLAINTS_SECRET_KEY": secrets.token_urlsafe(48),
            "COMPLAINTS_DATABASE_URL": database_url,
            "COMPLAINTS_INSTANCE_PATH": str(tmp / "instance"),
            "COMPLAINTS_KEYSTORE_PATH": str(tmp / "keys"),
            "COMPLAINTS_SETTINGS_FILE": str(tmp / "no-settings.toml"),
            "COMPLAINTS_LOG_FORMAT": "json",
            # Cheaper hashing: the scan logs in a handful of times and the login form is fuzzed.
            "COMPLAINTS_ARGON2_MEMORY_KIB": "8192",
            "COMPLAINTS_ARGON2_TIME_COST": "1",
            # Nothing is sent: the outbox waits for `notify send`, which the scan never runs.
            "COMPLAINTS_SMTP_PORT": str(free_port()),
            **RAISED_LIMITS,
        }
    )
    return env


@dataclass
class Seeded:
    password: str
    receipt_code: str


def seed(env: dict[str, str]) -> Seeded:
    """Migrate, create the key store, seed the demo organisation and file one report."""
    old = dict(os.environ)
    os.environ.update(env)
    try:
        from complaints import create_app, db, migrate
        from complaints.accounts.login import passwords
        from complaints.audit.services import Actor
        from complaints.cases.models import Disclosure, Route
        from complaints.cases.taxonomy import taxonomy
        from complaints.clock import now
        from complaints.crypto.keystore import LocalKeyStore
        from complaints.crypto.services import indexer, keystore
        from complaints.demo.services import seed_demo
        from complaints.directory.models import OrgUnit, Person
        from complaints.intake.services import AccusedPerson, Report, submit_report
        from complaints.settings import load_settings
        from complaints.workflow.config import workflow

        settings = load_settings()
        engine = db.create_engine(settings.resolved_database_url)
        migrate.upgrade(engine)
        engine.dispose()
        LocalKeyStore.initialise(
            settings.resolved_keystore_path, datetime.now(UTC), development=True
        )
        app = create_app(settings)
        password = "scan-" + secrets.token_urlsafe(18)
        import sqlalchemy as sa

        with app.app_context():
            session = db.session()
            seed_demo(
                session,
                keystore(),
                passwords(),
                password=password,
                actor=Actor.operator(),
                now=now(),
            )
            confidant = session.scalar(sa.select(Person).where(Person.email == DEMO_CONFIDANT))
            unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "BZK-APS"))
            if confidant is None or unit is None:
                raise ScanError("the demo organisation lacks its counsellor or unit")
            report = Report(
                category="bullying",
                grounds=(),
                when="maart 2026",
                last_incident_on=None,
                ongoing=False,
                unit_id=unit.id,
                place="vergaderzaal 4.12",
                description="Een collega scheldt mij uit tijdens het overleg.",
                accused=(AccusedPerson("Een collega", "collega"),),
                witnesses=(),
                desired_outcome="Dat het stopt.",
                route=Route.CONFIDANT,
                disclosure=Disclosure.ANONYMOUS,
                identity=None,
                chosen_confidant_id=confidant.id,
            )
            submission = submit_report(
                session,
                keystore(),
                indexer(),
                taxonomy(),
                workflow(),
                report,
                expected_recipients=None,
                now=now(),
            )
            db.commit()
            return Seeded(password, submission.receipt_code)
    finally:
        os.environ.clear()
        os.environ.update(old)


@contextlib.contextmanager
def serve(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """gunicorn on 127.0.0.1:``port`` until the block ends; yields the base URL."""
    base = require_loopback(f"http://127.0.0.1:{port}")
    command = [
        str(VENV_BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "8",
        "--timeout",
        "60",
        "wsgi:app",
    ]
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - a fixed command
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise ScanError(f"the server did not start; see {log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise ScanError(f"the server did not answer within 30 s; see {log_path}")
            time.sleep(0.3)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# Sessions, opened through the real forms --------------------------------------------------------


def _token(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise ScanError("no CSRF token on the page")
    return match.group(1)


def _post(http: Any, url: str, data: dict[str, str]) -> Any:
    page = http.get(url, timeout=10)
    response = http.post(
        url, data={**data, "csrf_token": _token(page.text)}, allow_redirects=False, timeout=30
    )
    if response.status_code not in (302, 303):
        raise ScanError(f"POST {urlsplit(url).path} answered {response.status_code}")
    return response


def fresh_session() -> requests.Session:
    return requests.Session()


def intake_session(base: str) -> Any:
    """An anonymous report in progress, answered up to the review page."""
    http = fresh_session()
    page = http.get(f"{base}/melden", timeout=10)
    http.post(
        f"{base}/melden", data={"csrf_token": _token(page.text)}, allow_redirects=False, timeout=10
    )
    steps = [
        ("/melden/wat", {"category": "bullying", "action": "continue"}),
        (
            "/melden/wanneer-waar",
            {"when_text": "maart 2026", "place": "kantine", "unit": "", "action": "continue"},
        ),
        ("/melden/beschrijving", {"description": "Er wordt gescholden.", "action": "continue"}),
        ("/melden/betrokkenen", {"action": "continue"}),
        ("/melden/wensen", {"desired_outcome": "Dat het stopt.", "action": "continue"}),
        ("/melden/wie", {"disclosure": "anonymous", "action": "continue"}),
        ("/melden/route", {"route": "confidant", "confidant": "", "action": "continue"}),
    ]
    for path, answers in steps:
        response = _post(http, base + path, answers)
        location = response.headers.get("Location", "")
        if urlsplit(location).path == path:
            raise ScanError(f"the intake step {path} did not accept the scan's answers")
    if "/melden/controleren" not in response.headers.get("Location", ""):
        raise ScanError("the intake walk did not reach the review page")
    return http


def followup_session(base: str, receipt_code: str) -> Any:
    """A complainant's follow-up session, opened with the seeded report's receipt code."""
    http = fresh_session()
    response = _post(http, f"{base}/opvolgen", {"code": receipt_code})
    if not response.headers.get("Location", "").endswith("/opvolgen/melding"):
        raise ScanError("the receipt code did not open the mailbox")
    http.get(f"{base}/opvolgen/melding", timeout=10)
    return http


def staff_session(base: str, login: str, password: str) -> Any:
    """A staff session: password, then TOTP enrolment with the key shown on the page."""
    http = fresh_session()
    response = _post(http, f"{base}/aanmelden", {"email": login, "password": password, "next": ""})
    if not response.headers.get("Location", "").endswith("/aanmelden/code-instellen"):
        raise ScanError(f"the password log-in of {login} failed")
    page = http.get(f"{base}/aanmelden/code-instellen", timeout=10)
    match = TOTP_KEY.search(page.text)
    if not match:
        raise ScanError("no TOTP key on the enrolment page")
    code = pyotp.TOTP(match.group(1).replace(" ", "")).now()
    response = http.post(
        f"{base}/aanmelden/code-instellen",
        data={"code": code, "csrf_token": _token(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 303:
        raise ScanError(f"the TOTP step of {login} failed ({response.status_code})")
    http.get(f"{base}/account", timeout=10)  # the session now holds a CSRF secret too
    return http


def cookie_header(http: Any) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def wapiti_cookie_file(http: Any, path: Path) -> Path:
    jar = {
        "127.0.0.1": {
            "/": {
                c.name: {
                    "value": c.value,
                    "expires": None,
                    "secure": False,
                    "port": None,
                    "version": 0,
                }
                for c in http.cookies
            }
        }
    }
    path.write_text(json.dumps(jar))
    return path


# The scanners ----------------------------------------------------------------------------------


@dataclass
class Finding:
    tool: str
    profile: str
    category: str
    severity: str
    method: str
    path: str
    parameter: str
    info: str
    allowed_by: str | None = None

    def key(self) -> str:
        return f"{self.tool}:{self.category}:{self.method} {self.path} [{self.parameter}]"


@dataclass
class Job:
    tool: str
    profile: str
    name: str
    command: list[str]
    timeout: float
    log: Path
    report: Path | None = None
    seconds: float = 0.0
    status: str = "not run"
    findings: list[Finding] = field(default_factory=list)


def sqlmap_job(
    out: Path,
    profile: str,
    name: str,
    url: str,
    *,
    cookie: str,
    dbms: str,
    data: str | None = None,
    level: int,
    timeout: float,
) -> Job:
    require_loopback(url)
    folder = out / "sqlmap" / name
    command = [
        SQLMAP,
        "-u",
        url,
        "--batch",
        f"--dbms={dbms}",
        f"--level={level}",
        "--risk=1",
        "--time-sec=2",
        "--timeout=15",
        "--retries=1",
        "--cookie",
        cookie,
        "--drop-set-cookie",
        # A valid form answers 303 and an invalid one 200: sqlmap compares those answers.
        "--ignore-redirects",
        "--skip=csrf_token,action,session",
        "--disable-coloring",
        "--flush-session",
        f"--output-dir={folder}",
    ]
    if data is None:
        command += ["--threads=4"]
    else:  # sqlmap fetches a fresh CSRF token for every request, one at a time
        command += [
            "--data",
            f"csrf_token=x&{data}",
            "--csrf-token=csrf_token",
            f"--csrf-url={url}",
        ]
    return Job("sqlmap", profile, name, command, timeout, out / "sqlmap" / f"{name}.log")


def wapiti_job(
    out: Path,
    profile: str,
    base: str,
    starts: list[str],
    excludes: tuple[str, ...],
    cookies: Path,
    attack_seconds: int,
) -> Job:
    """wapiti over one profile's pages; each attack module stops after ``attack_seconds``."""
    require_loopback(base)
    report = out / "wapiti" / f"{profile}.json"
    command = [
        WAPITI_PYTHON,
        "-c",
        WAPITI_SHIM,
        "-u",
        f"{base}/",
        "--scope",
        "folder",
        "-m",
        WAPITI_MODULES,
        "-c",
        str(cookies),
        "--flush-session",
        "--store-session",
        str(out / "wapiti" / f"{profile}-session"),
        "--no-bugreport",
        # Out-of-band endpoint: a closed loopback port, never wapiti3.ovh.
        "--endpoint",
        f"http://127.0.0.1:{free_port()}/",
        "-d",
        "6",
        "-S",
        "normal",
        "--max-scan-time",
        str(CRAWL_SECONDS),
        "--max-attack-time",
        str(attack_seconds),
        "-t",
        "15",
        "-f",
        "json",
        "-o",
        str(report),
        "-v",
        "1",
    ]
    for start in starts:
        command += ["-s", require_loopback(base + start)]
    for path in excludes:
        command += ["-x", base + path]
    return Job(
        "wapiti",
        profile,
        f"wapiti-{profile}",
        command,
        CRAWL_SECONDS + attack_seconds * len(WAPITI_MODULES.split(",")) + 120,
        out / "wapiti" / f"{profile}.log",
        report,
    )


def run_job(job: Job) -> Job:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with job.log.open("w") as log:
        log.write("$ " + " ".join(job.command) + "\n\n")
        log.flush()
        process = subprocess.Popen(  # noqa: S603 - fixed tools, arguments built here
            job.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=job.timeout)
            job.status = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            job.status = "timed out"
    job.seconds = time.monotonic() - started
    text = job.log.read_text(errors="replace")
    if job.tool == "sqlmap":
        job.findings = sqlmap_findings(job, text)
    else:
        job.findings = wapiti_findings(job)
    return job


_SQLMAP_PARAMETER = re.compile(r"^Parameter: (\S+) \((\w+)\)$", re.MULTILINE)
_SQLMAP_TYPE = re.compile(r"^\s+Type: (.+)$", re.MULTILINE)


def sqlmap_findings(job: Job, text: str) -> list[Finding]:
    url = job.command[job.command.index("-u") + 1]
    method = "POST" if "--data" in job.command else "GET"
    if "sqlmap identified the following injection point" not in text:
        if "do not appear to be injectable" not in text and job.status == "ok":
            job.status = "inconclusive"
        return []
    found = []
    for match in _SQLMAP_PARAMETER.finditer(text):
        types = _SQLMAP_TYPE.findall(text[match.end() :])[:1]
        found.append(
            Finding(
                "sqlmap",
                job.profile,
                "SQL Injection",
                "high",
                method,
                urlsplit(url).path,
                match.group(1),
                types[0] if types else "",
            )
        )
    return found


def wapiti_findings(job: Job) -> list[Finding]:
    if job.report is None or not job.report.exists():
        job.status = "no report"
        return []
    report = json.loads(job.report.read_text())
    found = []
    for section in ("vulnerabilities", "anomalies"):
        for category, items in report.get(section, {}).items():
            for item in items:
                found.append(
                    Finding(
                        "wapiti",
                        job.profile,
                        category,
                        WAPITI_LEVELS.get(str(item.get("level")), str(item.get("level"))),
                        item.get("method", ""),
                        item.get("path", ""),
                        item.get("parameter", "") or "",
                        " ".join(str(item.get("info", "")).split())[:160],
                    )
                )
    return found


def server_findings(log_path: Path) -> list[Finding]:
    """Answers of 500 and above in the server's own log: a crash or an outage that a scanner
    may not report (wapiti counts 500s, not 503s; sqlmap counts neither)."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request" and int(entry.get("status", 0)) >= 500:
            status = entry["status"]
            found.append(
                Finding(
                    "server",
                    "log",
                    f"HTTP {status}",
                    "high",
                    entry.get("method", ""),
                    entry.get("route", ""),
                    "",
                    f"request {entry.get('request_id', '')}: see server.log",
                )
            )
    return found


# Triage ----------------------------------------------------------------------------------------


def load_allowlist(path: Path) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = tomllib.loads(path.read_text()).get("allow", [])
    for entry in entries:
        if "docs/security.md" not in entry.get("reason", ""):
            raise ScanError(f"allow-list entry without a docs/security.md reference: {entry}")
    return entries


def triage(findings: list[Finding], allowlist: list[dict[str, str]]) -> None:
    for finding in findings:
        for entry in allowlist:
            if (
                entry.get("tool", finding.tool) == finding.tool
                and entry.get("category", finding.category) == finding.category
                and fnmatch(finding.path, entry.get("path", "*"))
                and fnmatch(finding.parameter, entry.get("parameter", "*"))
                and fnmatch(finding.info, entry.get("info", "*"))
            ):
                finding.allowed_by = entry["reason"]
                break


# Main ------------------------------------------------------------------------------------------


def plan_jobs(out: Path, base: str, seeded: Seeded, dbms: str, quick: bool) -> list[Job]:
    """The scanner runs. Each anonymous run gets a session of its own (a shared intake draft
    would be spoilt by another run's answers)."""
    level = 1 if quick else 2
    attack_seconds = 15 if quick else 40
    sql_timeout = 240 if quick else 480

    staff_sessions: dict[str, Any] = {}

    def staff(login: str) -> Any:
        # One session per account, shared by its wapiti and sqlmap runs: a second log-in would
        # need the next TOTP code (a code is accepted once), and neither run can log out.
        if login not in staff_sessions:
            staff_sessions[login] = staff_session(base, login, seeded.password)
        return staff_sessions[login]

    def anonymous(path: str) -> Any:
        http = fresh_session()
        http.get(base + path, timeout=10)  # the session now holds a CSRF secret
        return http

    confidant = staff(DEMO_CONFIDANT)
    inbox = confidant.get(f"{base}/zaken", timeout=10).text
    found = re.search(r'href="(/zaken/[0-9a-f-]{36})"', inbox)
    if found is None:
        raise ScanError("the seeded case is not in the counsellor's inbox")
    case_path = found.group(1)

    jobs = []
    for profile, session, starts in (
        (
            "anonymous",
            intake_session(base),
            ["/", "/melden/wat", "/melden/controleren", "/opvolgen", "/aanmelden"],
        ),
        ("complainant", followup_session(base, seeded.receipt_code), ["/opvolgen/melding"]),
        ("confidant", confidant, ["/zaken", case_path, "/account", "/zaken/namens-melden"]),
        (
            "auditor",
            staff(DEMO_AUDITOR),
            ["/statistieken", "/statistieken/jaarverslag", "/statistieken/api-sleutels"],
        ),
        (
            "privacy",
            staff(DEMO_PRIVACY_OFFICER),
            ["/privacy", "/privacy/bewaarplicht", "/privacy/logboek"],
        ),
    ):
        # The long runs first, so the short ones fill the gaps.
        cookies = wapiti_cookie_file(session, out / "wapiti" / f"{profile}-cookies.json")
        excludes = WAPITI_EXCLUDES if profile == "anonymous" else (*WAPITI_EXCLUDES, "/aanmelden*")
        jobs.append(wapiti_job(out, profile, base, starts, excludes, cookies, attack_seconds))

    def sql(profile: str, name: str, path: str, session: Any, data: str | None = None) -> Job:
        return sqlmap_job(
            out,
            profile,
            name,
            base + path,
            cookie=cookie_header(session),
            dbms=dbms,
            data=data,
            level=level,
            timeout=sql_timeout,
        )

    intake_forms = [
        ("intake-what", "/melden/wat", "category=bullying&action=continue"),
        (
            "intake-when-where",
            "/melden/wanneer-waar",
            "date_from=2026-03-02&date_to=&when_text=maart&unit=&place=kantine&action=continue",
        ),
        ("intake-description", "/melden/beschrijving", "description=Gescholden.&action=continue"),
        (
            "intake-people",
            "/melden/betrokkenen",
            "accused_query=Jansen&accused_pick=&accused_name=&accused_relation=&"
            "witness_query=Bakker&witness_pick=&witness_name=&witness_contact=&action=search",
        ),
        ("intake-wishes", "/melden/wensen", "desired_outcome=Excuses&action=continue"),
        (
            "intake-identity",
            "/melden/wie",
            "disclosure=confidential&name=Test&email=t@example.org&phone=&"
            "manager_query=Demir&manager_pick=&action=search",
        ),
        ("intake-route", "/melden/route", "route=confidant&confidant=&action=continue"),
    ]
    jobs += [
        sql(
            "anonymous",
            "login",
            "/aanmelden",
            anonymous("/aanmelden"),
            "email=nobody@example.org&password=x&next=",
        ),
        sql(
            "anonymous",
            "receipt",
            "/opvolgen",
            anonymous("/opvolgen"),
            "code=ABCD-EFGH-JKMN-PQRS-TVWX-YZ01",
        ),
        *(
            sql("anonymous", name, path, intake_session(base), data)
            for name, path, data in intake_forms
        ),
        sql(
            "complainant",
            "followup-message",
            "/opvolgen/melding/bericht",
            followup_session(base, seeded.receipt_code),
            "message=Hoi",
        ),
        sql(
            "confidant",
            "inbox",
            "/zaken?route=confidant&status=submitted&verlopen=y&ongelezen=y&gesloten=y&pagina=1",
            staff(DEMO_CONFIDANT),
        ),
        sql(
            "confidant", "case-note", case_path + "/notitie", staff(DEMO_CONFIDANT), "note=Notitie"
        ),
        sql(
            "auditor",
            "statistics",
            "/statistieken?jaar=2026&soort=submitted&rijen=route&kolommen=category",
            staff(DEMO_AUDITOR),
        ),
        sql("privacy", "retention-plan", "/privacy?dagen=30&pagina=1", staff(DEMO_PRIVACY_OFFICER)),
    ]
    return jobs


def summarise(jobs: list[Job], findings: list[Finding], seconds: float) -> int:
    say("")
    say("Scanner runs")
    for job in jobs:
        mark = len(job.findings)
        say(f"  {job.name:<26} {job.status:<13} {job.seconds:6.0f} s  {mark} finding(s)")
    say("")
    counts: dict[tuple[str, str], int] = {}
    for finding in findings:
        counts[(finding.tool, finding.severity)] = (
            counts.get((finding.tool, finding.severity), 0) + 1
        )
    say("Findings per tool and severity")
    for tool in ("sqlmap", "wapiti", "server"):
        row = ", ".join(f"{sev} {n}" for (t, sev), n in sorted(counts.items()) if t == tool)
        say(f"  {tool:<8} {row or 'none'}")
    new = [f for f in findings if f.allowed_by is None]
    allowed = [f for f in findings if f.allowed_by is not None]
    unique_allowed = sorted({(f.key(), f.allowed_by) for f in allowed})
    if unique_allowed:
        say("")
        say(f"Triaged (allow-listed, {len(allowed)} reports, {len(unique_allowed)} distinct)")
        for key, reason in unique_allowed:
            say(f"  {key}")
            say(f"      -> {reason}")
    if new:
        say("")
        say(f"NOT TRIAGED ({len(new)})")
        for finding in new:
            say(f"  [{finding.profile}] {finding.severity}: {finding.key()}")
            say(f"      {finding.info}")
    say("")
    say(f"Scan took {seconds:.0f} s.")
    incomplete = [j for j in jobs if j.status not in ("ok", "timed out")]
    if incomplete:
        say("Incomplete runs: " + ", ".join(f"{j.name} ({j.status})" for j in incomplete))
    if new:
        return 1
    if incomplete:
        return 2
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="the loopback PostgreSQL (COMPLAINTS_SCAN_POSTGRES_URL) or SQLite in a temp folder",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="report folder (replaced on every run)"
    )
    parser.add_argument("--quick", action="store_true", help="level 1 and shorter time limits")
    parser.add_argument("--parallel", type=int, default=8, help="scanner runs at the same time")
    args = parser.parse_args()
    for tool in (SQLMAP, WAPITI, WAPITI_PYTHON):
        if not Path(tool).exists():
            raise ScanError(f"{tool} is missing: apt-get install sqlmap wapiti")
    allowlist = load_allowlist(ALLOWLIST)
    out: Path = args.out
    if out.exists():
        if any(out.iterdir()) and not (out / "server.log").exists():
            raise ScanError(f"{out} is not empty and holds no earlier scan: not replacing it")
        shutil.rmtree(out)
    (out / "wapiti").mkdir(parents=True)
    (out / "sqlmap").mkdir(parents=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="complaints-scan-") as tmp_name:
        tmp = Path(tmp_name)
        with scratch_database(args.database, tmp) as database_url:
            env = app_environment(database_url, tmp)
            say(f"Seeding a scratch {args.database} database and key store in {tmp} ...")
            seeded = seed(env)
            port = free_port()
            with serve(env, port, out / "server.log") as base:
                say(f"Serving on {base}; opening sessions ...")
                dbms = "PostgreSQL" if args.database == "postgresql" else "SQLite"
                jobs = plan_jobs(out, base, seeded, dbms, args.quick)
                say(f"Running {len(jobs)} scanner runs, {args.parallel} at a time ...")
                with ThreadPoolExecutor(max_workers=args.parallel) as pool:
                    for future in as_completed([pool.submit(run_job, job) for job in jobs]):
                        job = future.result()
                        say(f"  done: {job.name} ({job.status}, {job.seconds:.0f} s)")
    findings = [f for job in jobs for f in job.findings] + server_findings(out / "server.log")
    triage(findings, allowlist)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "seconds": round(time.monotonic() - started),
                "runs": [
                    {"name": j.name, "status": j.status, "seconds": round(j.seconds)} for j in jobs
                ],
                "findings": [f.__dict__ for f in findings],
            },
            indent=2,
        )
    )
    return summarise(jobs, findings, time.monotonic() - started)


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the clean-up: server stopped, database dropped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    try:
        sys.exit(main())
    except ScanError as exc:
        sys.stderr.write(f"security-scan: {exc}\n")
        sys.exit(2)
