"""Shared CLI plumbing: one console, user errors as one line each and exit code 2."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer
from rich.console import Console

from computemoat.model.errors import UserError

console = Console()
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a ``UserError`` into its lines on stderr and exit code 2; anything else is a bug."""
    try:
        yield
    except UserError as e:
        for line in e.lines:
            err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
