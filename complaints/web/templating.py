"""Values every template can use, and the compiled templates every application shares."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, g
from flask_babel import get_locale
from flask_login import current_user
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket

from complaints.accounts.labels import role_label


class SharedBytecodeCache(BytecodeCache):
    """Compiled templates held in memory for the whole process, shared by every application
    it builds.

    A process normally builds one application, which compiles each template once anyway, so in
    production this changes nothing; the test suite and the CLI build many, and compiling every
    template again for each one was the largest single cost of the suite. Nothing is written to
    disk: no directory to keep writable, private or clean. Jinja checks each entry against the
    checksum of the template's source, so an edited template is compiled again; the key also
    holds the environment's compile-time options, so differently configured environments never
    share code.
    """

    def __init__(self) -> None:
        # dict reads and writes are atomic in CPython: a race between two threads compiling
        # the same template costs one compilation, never a wrong entry.
        self._code: dict[str, bytes] = {}

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        key = f"{_compile_options(environment, name)}:{self.get_cache_key(name, filename)}"
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


def _compile_options(environment: Environment, name: str) -> str:
    """What changes the code Jinja generates for the same source: the lexer's settings (as in
    ``jinja2.lexer.get_lexer``), extensions, optimisation, async, finalize, and whether this
    template is autoescaped (Flask decides that per template name, at compile time)."""
    autoescape = environment.autoescape
    if callable(autoescape):
        autoescape = autoescape(name)
    options = (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        sorted(environment.extensions),
        environment.optimized,
        environment.is_async,
        bool(autoescape),
        getattr(environment.finalize, "__qualname__", environment.finalize),
    )
    return hashlib.sha256(repr(options).encode()).hexdigest()[:16]


TEMPLATE_BYTECODE = SharedBytecodeCache()


def init_app(app: Flask) -> None:
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE

    @app.context_processor
    def shell_values() -> dict[str, Any]:
        def nav_user() -> Any:
            # Error pages must render even when the database is down: do not load the user there.
            if g.get("rendering_error") and "_login_user" not in g:
                return None
            return current_user if current_user.is_authenticated else None

        locale = get_locale()
        return {
            "current_language": locale.language if locale else "nl",
            "nav_user": nav_user,
            "role_label": role_label,
        }
