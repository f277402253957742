"""The shipped program, cohorts and scenarios copied into a folder, as an editable start."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from accel.shipped import shipped_path

STARTER_FOLDERS = ("programs", "cohorts", "scenarios")


@dataclass
class StarterCopy:
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)  # left as they were (no --force)


def shipped_files() -> list[tuple[str, Path]]:
    """(folder, file) of every shipped YAML file: the program, the cohorts, the scenarios."""
    return [
        (folder, path)
        for folder in STARTER_FOLDERS
        for path in sorted(shipped_path(folder).glob("*.yaml"))
    ]


def copy_starter_files(target: Path, *, overwrite: bool) -> StarterCopy:
    """Copy the shipped files under `target/<folder>/`; existing files are kept unless
    `overwrite`. Nothing is written when any would be kept: the set stays consistent."""
    plan = [(source, target / folder / source.name) for folder, source in shipped_files()]
    result = StarterCopy(existing=[to for _, to in plan if to.exists()])
    if result.existing and not overwrite:
        return result
    for source, to in plan:
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, to)
        result.written.append(to)
    result.existing = []
    return result
