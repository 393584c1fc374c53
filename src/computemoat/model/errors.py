"""The one exception type for user mistakes; every layer raises it, only the CLI turns it into exit 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem with user input. Each item of ``lines`` is one self-contained, one-line message
    (``file:line: path.to.field: what is wrong (hint)`` where a file is involved)."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines


class InfeasibleError(UserError):
    """The scenario admits no plan; the lines say which constraints conflict."""
