"""The errors lnplan raises for mistakes a planner can fix.

A small hierarchy: everything derives from :class:`LnplanError`, so the CLI can catch the expected
mistakes in one place, print them without a traceback and exit non-zero. Unexpected failures (bugs)
are not ``LnplanError`` and keep their traceback.

- :class:`InputError` — a file, a column, a value or an argument is wrong.
  - :class:`LayerValidationError` — a point layer has one or more problems; it carries all of them.
  - :class:`UnknownPlaceError` — a county or city name that is not in the boundaries.
  - :class:`CRSError` — a missing or mismatched coordinate reference system.
- :class:`ScenarioError` — a scenario file or an override is wrong; names the key path.
- :class:`InfeasibleError` — a model's constraints cannot all hold; says which and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LnplanError(Exception):
    """Base of every error that describes a mistake in the user's input or settings."""


class InputError(LnplanError, ValueError):
    """A file, column, value or argument that lnplan cannot accept."""


class CRSError(InputError):
    """A GeoDataFrame without a CRS, or with one that does not match what is expected."""


class UnknownPlaceError(InputError, KeyError):
    """A place name or code that is not among the boundaries; lists the closest matches."""

    def __init__(
        self, query: str, suggestions: Sequence[str] = (), *, what: str = "county"
    ) -> None:
        self.query = query
        self.suggestions = list(suggestions)
        hint = f"; closest matches: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"unknown {what} {query!r}{hint}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Problem:
    """One problem found in one cell (or row) of an input file.

    ``row`` is numbered as a spreadsheet shows it: the header is row 1, the first data row is row 2.
    """

    file: str
    row: int | None
    column: str | None
    value: object
    message: str
    unit: str = "row"  # "row" in tables (header = row 1); "feature" (1-based) in vector layers

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{', '.join(where)}: {self.message}{shown}"


class LayerValidationError(InputError):
    """A layer with one or more problems; ``problems`` holds every one, not only the first."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        n = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems[:50])
        more = f"\n  ... and {n - 50} more" if n > 50 else ""
        super().__init__(f"{file}: {n} problem{'s' if n != 1 else ''} found\n{lines}{more}")


class ScenarioError(LnplanError, ValueError):
    """A scenario file or override that is wrong; the message names the key path."""


class InfeasibleError(LnplanError, ValueError):
    """The constraints of a model cannot all hold; the message says which and by how much."""


class NoSolutionInLimitError(LnplanError):
    """A search ended on its work limit or safety cap before it found any answer; this proves
    nothing about whether one exists (status ``no_solution_in_limit``, not infeasible)."""
