"""The ``computemoat`` (alias ``cmoat``) command line. Each command lives in its own module with a
``register(app)`` function; commands parse arguments, call one function below, and print."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="computemoat",
    help="Multi-provider AI compute broker: catalog, latency, planning, simulation, gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order here is the order in --help.
_COMMAND_MODULES = ("catalog", "latency", "plan", "deal", "simulate", "gateway", "tenants", "dashboard")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"computemoat.cli.{_name}").register(app)


def main() -> None:
    app()
