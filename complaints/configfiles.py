"""Reading the policy files in ``config/`` strictly: a typo stops the application, by name."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from complaints.settings import ConfigurationError
from complaints.web.i18n import Localized


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
