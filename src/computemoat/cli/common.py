"""Shared CLI plumbing: one console, user errors as one line each and exit code 2."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from computemoat.model.errors import UserError

if TYPE_CHECKING:
    from computemoat.model import Scenario

console = Console()
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a ``UserError`` (and an ``OSError``: a path or address the machine refused) into one line
    per problem on stderr and exit code 2; anything else is a bug and keeps its traceback."""
    try:
        yield
    except UserError as e:
        for line in e.lines:
            err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except OSError as e:  # the machine refused: unwritable --out, port in use, missing directory
        where = f"{e.filename}: " if e.filename else ""
        err_console.print(f"[red]error:[/red] {where}{e.strerror or e} (check the path or address)",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="scenario YAML (default: the bundled default scenario)", show_default=False),
]


def load_scenario_arg(path: Path | None) -> Scenario:
    """The scenario at ``path``, or the bundled default when no path is given (raises UserError)."""
    from computemoat.catalog import default_scenario, load_scenario

    return default_scenario() if path is None else load_scenario(path)
