"""What a bad config file reports: every problem, each as `file:line: key.path: what is allowed`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: the file, the line a person looks at, the key path and what is allowed."""

    path: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config file is wrong. `issues` lists every problem found (in file order);
    `path`, `line`, `key_path` and `message` are the first one's."""

    def __init__(self, path: str, line: int | None, key_path: str, message: str) -> None:
        self._set_issues([ConfigIssue(path, line, key_path, message)])

    @classmethod
    def of(cls, issues: Sequence[ConfigIssue]) -> ConfigError:
        """One error for several problems (at least one)."""
        error = cls.__new__(cls)
        error._set_issues(issues)
        return error

    def _set_issues(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        first = self.issues[0]
        self.path, self.line, self.key_path, self.message = first.path, first.line, first.key_path, first.message
        if len(self.issues) == 1:
            text = str(first)
        else:
            text = f"{first.path}: {len(self.issues)} problems\n" + "\n".join(f"  {i}" for i in self.issues)
        Exception.__init__(self, text)


class UnknownPersonaError(Exception):
    """A persona name that config does not define."""
