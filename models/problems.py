"""Problems found in the input files, each naming the file and the place in it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.printable import printable


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    place: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        # A place is built from the file's keys, which may hold any character: a newline or an
        # escape sequence there is shown as `\n` or `\x1b`, never forging a line or a colour.
        place = f" {printable(self.place)}:" if self.place else ""
        # One line per problem, whatever a parser's message holds (PyYAML's span two lines).
        message = printable(" ".join(self.message.split()))
        return f"{printable(self.file)}:{place} {prefix}{message}{where}"


class InvalidInputError(Exception):
    """The files cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_place(location: tuple[str | int, ...]) -> str:
    """`('cities', 3, 'team', 1, 'email')` -> `cities[3].team[1].email`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
