"""Load tests run gunicorn against PostgreSQL (``bench/server.py``) and drive it with locust in
a subprocess (never imported here: locust patches the standard library with gevent)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test module that sets ``ONLY_BACKEND`` is not collected on the other backend's run:
    deselected, not skipped, so CI never shows a skip for it."""
    backend = config.getoption("--db")
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        only = getattr(getattr(item, "module", None), "ONLY_BACKEND", None)
        (dropped if only is not None and only != backend else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
