"""The one exception class of the CSV connector: every bad input becomes a CsvExportError."""

from __future__ import annotations

from typing import Iterable, NamedTuple

#: How many problems one exception keeps (the rest are counted, not listed).
MAX_PROBLEMS = 20


class Problem(NamedTuple):
    """One thing wrong with an input: where (file, physical line, column header) and what."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class CsvExportError(ValueError):
    """Bad CSV export or profile. ``problems`` lists up to MAX_PROBLEMS (file, line, column,
    message) tuples, ordered by file and line; ``total`` counts all problems found."""

    def __init__(
        self,
        problems: Iterable[Problem],
        *,
        total: int | None = None,
        summary: str | None = None,
    ) -> None:
        probs = list(problems)
        self.total = max(total or 0, len(probs))
        self.problems = probs[:MAX_PROBLEMS]
        self.summary = summary
        super().__init__(str(self))

    def __str__(self) -> str:
        head = self.summary
        if head is None:
            files = list(dict.fromkeys(p.file for p in self.problems))
            noun = "problem" if self.total == 1 else "problems"
            head = f"{self.total} {noun} in {', '.join(files)}"
        lines = [head] + [f"  - {p}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        return "\n".join(lines)


class ProfileError(CsvExportError):
    """The profile itself is invalid (file = the profile's path, column = stream.column)."""
