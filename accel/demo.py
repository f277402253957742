"""`accel demo`: run the shipped cohort end to end on embedded defaults into a folder of files."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from accel.database import create_schema, make_engine
from accel.inputs import LoadedInputs
from accel.operations import apply_cohort
from calendars.slots import to_local
from models.file_types import localized

DEMO_NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)  # before the program: everything is ahead


@dataclass
class DemoResult:
    out: Path
    database: Path
    written: list[Path] = field(default_factory=list)
    sessions: int = 0
    invitations: int = 0


def run_demo(inputs: LoadedInputs, out: Path, *, now: dt.datetime = DEMO_NOW) -> DemoResult:
    """Apply the cohort to a fresh SQLite file under `out` and write each city's timeline."""
    out.mkdir(parents=True, exist_ok=True)
    database = out / "accel.db"
    for stale in (database, out / "accel.db-wal", out / "accel.db-shm"):
        stale.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    plan = apply_cohort(engine, inputs, now=now)
    engine.dispose()
    result = DemoResult(
        out,
        database,
        sessions=len(plan.sessions),
        invitations=sum(1 for i in plan.invitations if i.notify),
    )
    folder = out / "timelines"
    folder.mkdir(exist_ok=True)
    for city in inputs.cohort.cities:
        emails = {p.key for p in inputs.timeline.people.values() if p.city_id == city.id}
        items = [
            {
                "key": s.key,
                "kind": s.kind.value,
                "title": localized(s.title, city.language),
                "starts_at": s.starts_at.isoformat().replace("+00:00", "Z"),
                "local_start": to_local(s.starts_at, city.timezone).isoformat(),
                "local_end": to_local(s.ends_at, city.timezone).isoformat(),
                "location": s.location,
            }
            for s in inputs.timeline.sessions
            if s.city_id == city.id or emails & {a.person for a in s.attendees}
        ]
        path = folder / f"{city.id}.json"
        path.write_text(
            json.dumps(
                {"city": city.id, "timezone": city.timezone, "sessions": items},
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        result.written.append(path)
    return result
