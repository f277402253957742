"""`accel init DIR`: the shipped program, cohorts and scenarios, copied to edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accel.starter_files import copy_starter_files
from cli.options import EXIT_INVALID_INPUT, err, out


def init(
    folder: Annotated[Path, typer.Argument(help="Where to write programs/, cohorts/, scenarios/.")],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that are already there.")
    ] = False,
) -> None:
    """Write an editable starting set: the shipped program, cohorts and scenarios."""
    if folder.exists() and not folder.is_dir():
        err.print(f"accel init: {folder} is not a folder.", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    result = copy_starter_files(folder, overwrite=force)
    if result.existing:
        for path in result.existing:
            err.print(f"{path}: already exists (--force overwrites it)", markup=False)
        err.print("accel init: nothing was written.", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    for path in result.written:
        out.print(f"wrote {path}", markup=False)
    cohort = folder / "cohorts" / "cda-2024.yaml"
    out.print(
        f"Next: cd {folder} && accel validate (it reads {cohort.relative_to(folder)}, "
        "and the program it names from programs/).",
        markup=False,
    )
