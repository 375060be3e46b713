"""Repeated problems, grouped: one line per kind of problem, with the count and the first few samples.

A dataset whose 400 photos are all stored at a quarter of the masks' size gives 400 warnings that
differ only in the file name and the sizes. :func:`group_problems` folds them into one
:class:`ProblemGroup` per *kind*: the message with its file paths and numbers masked
(:func:`problem_kind`). Every problem stays in its group (and in the JSON ``warnings`` / ``skipped``
lists); only what is printed or shown is shortened, by :meth:`ProblemGroup.line` and
:func:`problem_lines` (kinds with at most :data:`FIRST` problems are listed one by one).

Example:
    >>> from segviz.dataset import Problem
    >>> ps = [Problem(n, f"images/{n}.jpg: photo size 120x90 differs from its masks (480x360)") for n in "abcde"]
    >>> [g.line(first=2) for g in group_problems(ps)]
    ['5 samples (a, b and 3 more): images/a.jpg: photo size 120x90 differs from its masks (480x360)']
    >>> group_problems(ps[:1])[0].line()
    'images/a.jpg: photo size 120x90 differs from its masks (480x360)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from segviz.dataset import Problem

#: How many sample names a grouped line shows before "and N more".
FIRST = 3

# A file named in a message: a token holding a slash or a backslash, or ending in an extension,
# without the ":" or "," that follows it.
_PATH = re.compile(r"[^\s()]*(?:[/\\][^\s()]*?|\.[A-Za-z][A-Za-z0-9]{1,4})(?=[:,;]?(?:\s|$|\)))")
_NUMBER = re.compile(r"\d[\d,.]*")


def problem_kind(reason: str) -> str:
    """The kind of a problem: its message with file paths as ``<file>`` and numbers as ``#``.

    Example:
        >>> problem_kind("/d/images/a.jpg: photo size 120x90 differs from its masks (480x360)")
        '<file>: photo size #x# differs from its masks (#x#)'
        >>> problem_kind("gt/b.png: values 3 (12 px) are not in the class table") == problem_kind(
        ...     "gt/c.png: values 7 (1,024 px) are not in the class table")
        True
    """
    return _NUMBER.sub("#", _PATH.sub("<file>", reason))


@dataclass(frozen=True)
class ProblemGroup:
    """Problems of one kind, in the order they were found.

    Attributes:
        kind: :func:`problem_kind` of every member.
        problems: all of them (never shortened).
    """

    kind: str
    problems: tuple[Problem, ...]

    @property
    def count(self) -> int:
        return len(self.problems)

    @property
    def names(self) -> list[str]:
        """Every sample the group concerns, in order."""
        return [p.name for p in self.problems]

    @property
    def example(self) -> str:
        """The first problem's full message."""
        return self.problems[0].reason

    def line(self, *, first: int = FIRST) -> str:
        """One line: the message itself for a single problem; otherwise the count, the first
        ``first`` sample names, and the first problem's full message as the example."""
        if self.count == 1:
            return self.example
        shown = ", ".join(self.names[:first])
        rest = self.count - min(first, self.count)
        more = f" and {rest} more" if rest else ""
        return f"{self.count} samples ({shown}{more}): {self.example}"


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """Group problems by :func:`problem_kind`, groups in the order of their first member.

    Example:
        >>> from segviz.dataset import Problem
        >>> gs = group_problems([Problem("a", "a.png: bad"), Problem("b", "x/b.png: unreadable"),
        ...                      Problem("c", "x/c.png: unreadable")])
        >>> [(g.kind, g.count) for g in gs]
        [('<file>: bad', 1), ('<file>: unreadable', 2)]
    """
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        groups.setdefault(problem_kind(p.reason), []).append(p)
    return [ProblemGroup(kind, tuple(members)) for kind, members in groups.items()]


def problem_lines(problems: Iterable[Problem], *, first: int = FIRST, with_names: bool = False) -> list[str]:
    """What the command line prints: a kind with more than ``first`` problems as one
    :meth:`ProblemGroup.line`; smaller groups one line per problem (``name: reason`` with
    ``with_names``), exactly as they read on their own.

    Example:
        >>> from segviz.dataset import Problem
        >>> problem_lines([Problem(n, f"p/{n}.png: unreadable") for n in "abcd"], first=3)
        ['4 samples (a, b, c and 1 more): p/a.png: unreadable']
        >>> problem_lines([Problem(n, f"p/{n}.png: unreadable") for n in "ab"], with_names=True)
        ['a: p/a.png: unreadable', 'b: p/b.png: unreadable']
    """
    lines = []
    for g in group_problems(problems):
        if g.count > first:
            lines.append(g.line(first=first))
        else:
            lines.extend(f"{p.name}: {p.reason}" if with_names else p.reason for p in g.problems)
    return lines
