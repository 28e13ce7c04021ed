"""Reading the policy files in ``config/`` strictly: a typo stops the application, by name."""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

from complaints.settings import ConfigurationError
from complaints.web.i18n import Localized

_P = ParamSpec("_P")
_T = TypeVar("_T")
# Enough for the shipped files and the few variants a test writes; the oldest entry goes first.
_PARSED_PER_LOADER = 16


def parsed_once(
    load: Callable[Concatenate[Path, _P], _T],
) -> Callable[Concatenate[Path, _P], _T]:
    """Keep what ``load`` made of a policy file while the file's bytes stay the same.

    Every application checks its policy files when it is built; a process that builds many
    (the test suite, above all) need not parse and check the same bytes each time. The key is
    the path as given, the file's content and the identity of any further argument (the
    retention policy is checked against one workflow object). A file that cannot be read, or
    whose check fails, is never cached, so its error is raised every time. The result is shared:
    the loaders return frozen dataclasses, and nobody may change what is inside them.
    """
    parsed: dict[tuple[Any, ...], tuple[tuple[Any, ...], _T]] = {}

    @functools.wraps(load)
    def cached(path: Path, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            content = path.read_bytes()
        except OSError:
            return load(path, *args, **kwargs)  # the loader words the error
        named = sorted(kwargs.items())
        depends_on = (*args, *(value for _, value in named))
        key = (
            path,
            hashlib.sha256(content).digest(),
            tuple(name for name, _ in named),
            *map(id, depends_on),
        )
        hit = parsed.get(key)
        # The entry holds its arguments, so an id in a key cannot be reused by a newer object.
        if hit is not None and all(a is b for a, b in zip(hit[0], depends_on, strict=True)):
            return hit[1]
        value = load(path, *args, **kwargs)
        try:
            unchanged = path.read_bytes() == content
        except OSError:
            unchanged = False
        if unchanged:  # a file rewritten while it was read is not remembered under either text
            parsed[key] = (depends_on, value)
            while len(parsed) > _PARSED_PER_LOADER:
                del parsed[next(iter(parsed))]
        return value

    return cached


def read_toml(path: Path) -> dict[str, Any]:
    """The file's contents; any reason it cannot be read becomes a one-line ConfigurationError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"{path} is missing") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"{path} cannot be read ({exc.strerror or exc})") from None


class Section:
    """One table of a policy file, with the place it came from for error messages."""

    def __init__(self, path: Path, where: str, table: Any) -> None:
        self.path = path
        self.where = where
        if not isinstance(table, Mapping):
            self.fail("must be a table")
        self.table: Mapping[str, Any] = table

    def fail(self, message: str) -> NoReturn:
        place = f"{self.where}: " if self.where else ""
        raise ConfigurationError(f"{self.path}: {place}{message}")

    def allow(self, keys: Iterable[str]) -> None:
        unknown = sorted(set(self.table) - set(keys))
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}")

    def text(self, key: str) -> str:
        value = self.table.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key} must be a non-empty text")
        return str(value).strip()

    def localized(self, prefix: str = "") -> Localized:
        return Localized(nl=self.text(f"{prefix}nl"), en=self.text(f"{prefix}en"))

    def strings(self, key: str, *, default: list[str] | None = None) -> list[str]:
        value = self.table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{key} must be a list of texts")
        return list(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false")
        return bool(value)

    def positive_int(self, key: str) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.fail(f"{key} must be a positive whole number")
        return int(value)

    def child(self, key: str) -> Section:
        return Section(self.path, f"{self.where}.{key}" if self.where else key, self.table.get(key))
