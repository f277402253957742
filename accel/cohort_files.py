"""Which cohort file holds an applied cohort: `./cohorts/*.yaml` first, then the shipped ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from accel.shipped import shipped_path
from models.yaml_source import MAX_FILE_BYTES, parse_yaml


@dataclass(frozen=True)
class CohortFiles:
    """The file found for each cohort id, and the ids no file (or more than one) claims."""

    found: dict[str, Path]
    missing: list[str]
    ambiguous: dict[str, list[Path]]


def cohort_folders() -> list[Path]:
    """Where cohort files are looked for, in order: as `default_cohort_file` does."""
    return [Path("cohorts"), shipped_path("cohorts")]


def declared_cohort_id(path: Path) -> str | None:
    """The `cohort:` key of a YAML file, read safely; None for anything unreadable or not a
    cohort file (a folder may hold drafts and other YAML: they are not errors here)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    document, problems = parse_yaml(raw, str(path))
    if document is None or problems or not isinstance(document.data, dict):
        return None
    value = document.data.get("cohort")
    return value if isinstance(value, str) else None


def find_cohort_files(
    cohort_ids: Iterable[str], folders: Sequence[Path] | None = None
) -> CohortFiles:
    """For each id, the one `*.yaml` file declaring `cohort: <id>` in the first folder that has
    one. Two files in that folder claiming the same id are ambiguous: neither is guessed."""
    wanted = list(dict.fromkeys(cohort_ids))
    claims: dict[str, list[Path]] = {}
    for folder in folders if folders is not None else cohort_folders():
        if not folder.is_dir():
            continue
        in_folder: dict[str, list[Path]] = {}
        for path in sorted(folder.glob("*.yaml")):
            cohort_id = declared_cohort_id(path)
            if cohort_id in wanted and cohort_id not in claims:
                in_folder.setdefault(cohort_id, []).append(path)
        claims |= in_folder
    found = {i: paths[0] for i, paths in claims.items() if len(paths) == 1}
    ambiguous = {i: paths for i, paths in claims.items() if len(paths) > 1}
    missing = [i for i in wanted if i not in claims]
    return CohortFiles({i: found[i] for i in wanted if i in found}, missing, ambiguous)
