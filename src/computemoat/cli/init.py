"""`computemoat init`: write a commented starter scenario to edit (it validates and plans as written)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from computemoat.cli.common import console, examples, user_errors
from computemoat.model.errors import UserError


def init(
    path: Annotated[Path, typer.Argument(help="scenario YAML to write")] = Path("scenario.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented starter scenario (bundled public prices, one training job, one inference
    service, a GPU-share cap) to edit, validate and plan."""
    from computemoat.catalog import starter_scenario_text

    with user_errors():
        if path.exists() and not force:
            raise UserError(f"{path}: already exists (choose another path, or --force to overwrite)")
        if path.is_dir() or not path.parent.is_dir():
            raise UserError(f"{path}: not a file in an existing directory (create the directory first)")
        path.write_text(starter_scenario_text(), encoding="utf-8")
    console.print(f"wrote {path}; next: computemoat validate {path} && computemoat plan {path}", highlight=False,
                  soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(epilog=examples("computemoat init", "computemoat init my-fleet.yaml && computemoat plan my-fleet.yaml",
                                "computemoat init scenario.yaml --force"))(init)
