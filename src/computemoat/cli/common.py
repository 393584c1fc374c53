"""Shared CLI plumbing: one console, user errors as one line each and exit code 2, progress on stderr,
checks that run before a server announces itself, and the hint for a missing optional extra."""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.util
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from computemoat.model.errors import MissingExtraError, UserError

if TYPE_CHECKING:
    from computemoat.model import Scenario

P = ParamSpec("P")
R = TypeVar("R")
EXIT_USER_ERROR = 2
PIPE_WIDTH = 1000
"""Columns when stdout is not a terminal: wide enough that no table truncates an id ("p4d…") for a script."""


class _Console(Console):
    """A rich console that is only as narrow as a terminal forces it to be: piped or redirected output
    keeps every cell whole (no ellipsis, no folding), whatever ``COLUMNS`` says."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr)
        self._pipe_width = PIPE_WIDTH  # rich reads COLUMNS into _width at construction; a pipe ignores it

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if not self.is_terminal:
            return ConsoleDimensions(max(size.width, self._pipe_width), size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console: Console = _Console()
err_console: Console = _Console(stderr=True)

# extra -> modules it brings (pyproject's [project.optional-dependencies]; tests/cli/test_extras.py checks)
EXTRAS: dict[str, tuple[str, ...]] = {
    "gateway": ("fastapi", "uvicorn", "aiohttp", "httpx", "orjson", "prometheus_client", "sqlalchemy", "alembic",
                "jinja2"),
    "postgres": ("psycopg",),
    "sim": ("ray", "pyarrow", "plotly"),
    "web": ("fastapi", "uvicorn", "plotly", "jinja2", "fastapi_offline", "httpx", "prometheus_client", "pyarrow"),
    "parquet": ("pyarrow",),
}


def require_extra(extra: str, feature: str) -> None:
    """Raise a one-line ``MissingExtraError`` naming ``extra`` unless all its modules are importable."""
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a finder that refuses it, a half-removed package
            found = False
        if not found:
            raise MissingExtraError(extra, module, feature)


def needs_extra(extra: str, feature: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command so that it checks ``extra`` first (one line and exit 2 when it is missing),
    before any import of the command's own can fail with a traceback."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            with user_errors():
                require_extra(extra, feature)
            return fn(*args, **kwargs)

        return checked

    return wrap


def _extra_for(module: str | None) -> str | None:
    top = (module or "").split(".")[0]
    return next((extra for extra, mods in EXTRAS.items() if top in mods), None)


def _error_line(line: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a ``UserError`` (and an ``OSError``: a path or address the machine refused, or a missing
    optional dependency) into one line per problem on stderr and exit code 2; anything else is a bug
    and keeps its traceback."""
    try:
        yield
    except UserError as e:
        for line in e.lines:
            _error_line(line)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except ModuleNotFoundError as e:  # an optional extra is not installed
        extra = _extra_for(e.name)
        if extra is None:
            raise
        _error_line(f"{e.name} is not installed (pip install 'computemoat[{extra}]')")
        raise typer.Exit(EXIT_USER_ERROR) from None
    except OSError as e:  # the machine refused: unwritable --out, port in use, missing directory
        where = f"{e.filename}: " if e.filename else ""
        _error_line(f"{where}{e.strerror or e} (check the path or address)")
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the server will (SO_REUSEADDR, like uvicorn), so a busy port is one
    ``error:`` line before anything is announced rather than a server error after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror or e})"
            raise UserError(f"--port {port}: {host}:{port} {why} (pick another --port, or stop what holds it)") \
                from None


# -- progress: on stderr, only on a terminal, never with --quiet --------------------------------------------
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress on stderr (errors still print)")]


def _show_progress(quiet: bool) -> bool:
    return not quiet and err_console.is_terminal


@contextlib.contextmanager
def status(text: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner with ``text`` on stderr; yields ``update(text)``. Nothing at all off a terminal."""
    if not _show_progress(quiet):
        yield lambda _text: None
        return
    from rich.live import Live
    from rich.spinner import Spinner

    spinner = Spinner("dots", text)
    with Live(spinner, console=err_console, transient=True, refresh_per_second=8) as live:
        live.refresh()  # shown at once, not only after the first tick

        def update(new: str) -> None:
            spinner.update(text=new)
            live.refresh()

        yield update


@contextlib.contextmanager
def progress_bar(text: str, quiet: bool = False) -> Iterator[Callable[[float], None]]:
    """A progress bar with elapsed and remaining time on stderr; yields ``update(fraction_done)``."""
    if not _show_progress(quiet):
        yield lambda _fraction: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(text, total=1.0)
        bar.refresh()  # shown at once, not only after the first tick
        yield lambda fraction: bar.update(task, completed=fraction)


ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="scenario YAML (default: the bundled default scenario)", show_default=False),
]


def load_scenario_arg(path: Path | None) -> Scenario:
    """The scenario at ``path``, or the bundled default when no path is given (raises UserError)."""
    from computemoat.catalog import default_scenario, load_scenario

    return default_scenario() if path is None else load_scenario(path)


def examples(*commands: str) -> str:
    """The Examples section of a command's ``--help`` (typer's epilog; one command per line)."""
    return "[bold]Examples[/bold]\n\n" + "\n".join(f"  $ {escape(c)}" for c in commands)
