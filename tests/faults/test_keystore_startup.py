"""The key store missing or broken when the application starts: it refuses to start.

``tests/crypto/test_keystore.py`` proves that the store itself fails closed and
``tests/crypto/test_cli.py`` that ``keys`` commands say so. This starts the application the way
production does: ``create_app`` for every kind of breakage (missing, empty, unreadable,
corrupt state, corrupt key), and the real entry points in a fresh process, as a service
manager would: ``import wsgi`` (what gunicorn imports) and ``gunicorn --check-config wsgi:app``.
Each refuses with one plain line naming the problem and the fix: no traceback, no key material.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from complaints import create_app
from complaints.settings import ConfigurationError
from tests.conftest import ROOT, TEST_SECRET, make_settings

GUNICORN = Path(sys.executable).parent / "gunicorn"
NOBODY = 65534


def _missing(store: Path) -> None:
    shutil.rmtree(store)


def _empty(store: Path) -> None:
    shutil.rmtree(store)
    store.mkdir(mode=0o700)


def _unreadable(store: Path) -> None:
    # The application runs as another user than the store's owner (root, mode 0700).
    store.chmod(0o700)


def _corrupt_state(store: Path) -> None:
    (store / "keystore.json").write_text('{"keys": [')


def _corrupt_key(store: Path) -> None:
    for key in (store / "kek").iterdir():
        key.write_bytes(b"\x00" * 5)


BREAKAGES: dict[str, Callable[[Path], None]] = {
    "missing": _missing,
    "empty": _empty,
    "unreadable": _unreadable,
    "corrupt-state": _corrupt_state,
    "corrupt-key": _corrupt_key,
}


@contextmanager
def _running_as(uid: int | None) -> Iterator[None]:
    if uid is None:
        yield
        return
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)


def _key_material(store: Path) -> list[str]:
    if not store.exists():
        return []
    return [p.read_bytes().hex() for p in store.rglob("*.key") if p.stat().st_size > 8]


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_create_app_refuses_to_start_without_a_usable_key_store(
    keystore_path: Path, tmp_path: Path, breakage: Callable[[Path], None]
) -> None:
    material = _key_material(keystore_path)
    breakage(keystore_path)
    before = sorted(keystore_path.rglob("*")) if keystore_path.exists() else None
    as_user = NOBODY if breakage is _unreadable else None
    # The instance folder must be the running user's (outside root's private pytest folder).
    instance = Path(tempfile.mkdtemp(prefix="complaints-faults-instance-"))
    instance.chmod(0o777)
    settings = make_settings(
        tmp_path, "sqlite:///:memory:", keystore_path, instance_path=instance / "instance"
    )
    try:
        with _running_as(as_user), pytest.raises(ConfigurationError) as refused:
            create_app(settings)
    finally:
        shutil.rmtree(instance)
    message = str(refused.value)
    assert message.startswith("key store unavailable ("), message
    assert "flask --app wsgi keys init" in message
    assert "\n" not in message
    assert all(key not in message for key in material)
    # Refusing changes nothing: no store is made, nothing in it is repaired or replaced.
    after = sorted(keystore_path.rglob("*")) if keystore_path.exists() else None
    assert after == before


def _start(command: list[str], store: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env.update(
        COMPLAINTS_ENV="development",
        COMPLAINTS_SECRET_KEY=TEST_SECRET,
        COMPLAINTS_DATABASE_URL=f"sqlite:///{tmp_path / 'never-opened.db'}",
        COMPLAINTS_INSTANCE_PATH=str(tmp_path / "instance"),
        COMPLAINTS_KEYSTORE_PATH=str(store),
        COMPLAINTS_SETTINGS_FILE=str(tmp_path / "none.toml"),
    )
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=90
    )


def test_the_wsgi_entry_point_exits_with_one_line_when_the_store_is_missing(
    keystore_path: Path, tmp_path: Path
) -> None:
    shutil.rmtree(keystore_path)
    result = _start([sys.executable, "-c", "import wsgi"], keystore_path, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("complaints: cannot start: key store unavailable (")
    assert line.endswith(
        "create it with 'flask --app wsgi keys init' or set COMPLAINTS_KEYSTORE_PATH"
    )
    assert not keystore_path.exists(), "starting must not create a store"


def test_gunicorn_refuses_to_start_with_a_corrupt_key(keystore_path: Path, tmp_path: Path) -> None:
    material = _key_material(keystore_path)
    _corrupt_key(keystore_path)
    result = _start([str(GUNICORN), "--check-config", "wsgi:app"], keystore_path, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert "complaints: cannot start: key store unavailable" in output
    assert all(key not in output for key in material)
