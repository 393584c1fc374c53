"""The ``computemoat`` (alias ``cmoat``) command line. Each command lives in its own module with a
``register(app)`` function; commands parse arguments, call one function below, and print."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from computemoat.cli.common import examples

app = typer.Typer(
    name="computemoat",
    help="Multi-provider AI compute broker: catalog, latency, planning, simulation, gateway.",
    epilog=examples("computemoat init && computemoat plan scenario.yaml --out plan.json",
                    "computemoat plan --format json | jq .plan.total_cost_usd",
                    "computemoat COMMAND -h"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from computemoat import __version__

        typer.echo(f"computemoat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Multi-provider AI compute broker: catalog, latency, planning, simulation, gateway."""


# Order here is the order in --help.
_COMMAND_MODULES = ("init", "catalog", "latency", "plan", "simulate", "gateway", "tenants", "dashboard")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"computemoat.cli.{_name}").register(app)


def main() -> None:
    app()
