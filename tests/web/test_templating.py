"""Compiled templates are shared by every application in the process, and never served for a
template that changed or for an environment that would compile it differently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from jinja2 import Environment, FileSystemLoader, select_autoescape

from complaints import create_app
from complaints.web.templating import TEMPLATE_BYTECODE
from tests.conftest import make_settings


def _record_compilations(monkeypatch: pytest.MonkeyPatch, env: Environment) -> list[str | None]:
    """The names of the templates ``env`` really compiles from here on (a spy around
    Jinja's own ``compile``; everything is still compiled by Jinja)."""
    compiled: list[str | None] = []
    real = env.compile

    def compile_and_note(source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        compiled.append(name)
        return real(source, name, *args, **kwargs)

    monkeypatch.setattr(env, "compile", compile_and_note)
    return compiled


def _load_all(application: Flask, names: list[str]) -> None:
    for name in names:
        application.jinja_env.get_template(name)


def test_an_application_built_after_another_compiles_no_template_again(
    app: Flask,
    shared_engine: sa.Engine,
    tmp_path: Path,
    keystore_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = sorted(n for n in app.jinja_env.list_templates() if n.endswith((".html", ".txt")))
    assert len(names) > 20, names
    _load_all(app, names)

    def another_app() -> Flask:
        url = shared_engine.url.render_as_string(hide_password=False)
        application = create_app(make_settings(tmp_path, url, keystore_path))
        application.extensions["complaints.db"].engine.dispose()
        return application

    later = another_app()
    compiled = _record_compilations(monkeypatch, later.jinja_env)
    _load_all(later, names)
    assert compiled == []
    # Control: without the shared cache the same application compiles every template, so the
    # spy does see compilations.
    control = another_app()
    control.jinja_env.bytecode_cache = None
    compiled = _record_compilations(monkeypatch, control.jinja_env)
    _load_all(control, names)
    assert compiled == names


def _environment(folder: Path, *, autoescape: bool = False, **options: Any) -> Environment:
    """A new environment each time, so nothing comes from an environment's own template cache.
    Autoescaping is decided by a function, as Flask does: the same function either way."""
    return Environment(
        loader=FileSystemLoader(folder),
        bytecode_cache=TEMPLATE_BYTECODE,
        autoescape=select_autoescape(enabled_extensions=(), default=autoescape),
        **options,
    )


def test_an_edited_template_is_compiled_again(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("before {{ 1 + 1 }}", encoding="utf-8")
    assert _environment(tmp_path).get_template("page.html").render() == "before 2"
    page.write_text("after {{ 2 + 2 }}", encoding="utf-8")
    assert _environment(tmp_path).get_template("page.html").render() == "after 4"


def test_environments_configured_otherwise_compile_their_own_code(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("{% if true %}\nx{% endif %}|{{ '<b>' }}", encoding="utf-8")
    rendered = [
        _environment(tmp_path, **options).get_template("page.html").render()
        for options in ({}, {"trim_blocks": True}, {"autoescape": True}, {})
    ]
    assert rendered == ["\nx|<b>", "x|<b>", "\nx|&lt;b&gt;", "\nx|<b>"]
