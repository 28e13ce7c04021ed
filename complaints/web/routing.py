"""URL rules whose builders are compiled once per process, not once per application."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from werkzeug.routing import Rule

_BUILDERS: dict[Hashable, Callable[..., tuple[str, str]]] = {}


class SharedBuilderRule(Rule):
    """A werkzeug ``Rule`` that reuses the URL builder already compiled for an identical rule.

    Werkzeug generates and compiles two small Python functions for every rule it binds to a
    map. With about 80 rules that was three quarters of building an application (41 of 56 ms),
    which the test suite does once per test. A builder depends only on the rule's text, its
    parsed parts, its defaults and its converters' types, and takes the rule it builds for as its
    first argument, so the same function serves an identical rule of any later application.
    ``_compile_builder`` is werkzeug's, not public: ``tests/web/test_routing.py`` checks every
    URL of the application against plain rules, so a werkzeug that changes it fails there.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = (
            append_unknown,
            self.rule,
            tuple(self._trace),
            repr(sorted((self.defaults or {}).items())),
            tuple(sorted((name, type(c)) for name, c in self._converters.items())),
        )
        builder = _BUILDERS.get(key)
        if builder is None:
            builder = _BUILDERS[key] = super()._compile_builder(append_unknown)
        return builder
