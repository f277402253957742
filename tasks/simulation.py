"""Replay a cohort on a simulated clock: the flows' logic, from one due moment to the next.

The clock jumps to whichever comes first: the next message's `send_at`, the next daily check
(08:00 and 08:30 in the organizer's zone, as the deployments run them) or the next scenario
event. At each moment it does what the deployed flows would do at that time: scenario action,
checks, then the dispatcher. Messages are written as `.eml` files dated with their simulated
send time. Prefect is left out on purpose: the logic is the same functions its tasks call, and
a thousand flow runs would cost minutes of orchestration overhead for nothing.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from accel.csv_cells import spreadsheet_cell
from accel.database import create_schema, make_engine
from accel.deliverables import UnknownDeliverableError, submit_deliverable
from accel.feed_export import export_feeds
from accel.inputs import load_inputs
from accel.rehearsal import record_rehearsal
from accel.session_overrides import SessionChangeError
from accel.settings import Settings
from calendars.timeline_types import LoadedInputs
from mail.dispatcher import send_due_messages
from mail.notices import check_deliverables, notify_decision_points
from mail.senders import FileSender
from models.outbox import OUTBOX, MessageStatus
from models.problems import InvalidInputError, Problem
from models.scenario_file import (
    ApplyCohort,
    CancelSession,
    MoveSession,
    Scenario,
    ScenarioEvent,
    SubmitDeliverable,
)
from models.tables import PERSON
from models.timezones import load_zone
from tasks.mail_settings import dispatch_options
from tasks.operations import apply_cohort, override_sessions

CHECK_TIMES = (dt.time(8, 0), dt.time(8, 30))  # deliverable checks, then decision points


@dataclass
class SentMessage:
    id: int
    kind: str
    email: str
    city_id: str | None
    sent_at: dt.datetime
    timezone: str


@dataclass
class SimulationResult:
    out: Path
    steps: int = 0
    messages: list[SentMessage] = field(default_factory=list)
    feeds: Counter[str] = field(default_factory=Counter)

    def by_kind(self) -> Counter[str]:
        return Counter(m.kind for m in self.messages)

    def by_city(self) -> Counter[str]:
        return Counter(m.city_id or "(cohort)" for m in self.messages)

    def by_week(self) -> Counter[str]:
        return Counter(
            f"{m.sent_at.isocalendar().year}-W{m.sent_at.isocalendar().week:02d}"
            for m in self.messages
        )

    def busiest_day_per_person(self) -> dict[str, tuple[dt.date, int]]:
        days: dict[str, Counter[dt.date]] = defaultdict(Counter)
        for m in self.messages:
            days[m.email][m.sent_at.astimezone(load_zone(m.timezone)).date()] += 1
        return {email: counter.most_common(1)[0] for email, counter in sorted(days.items())}


def _next_check(after: dt.datetime, zone: str) -> dt.datetime:
    """The first daily check time strictly after `after`."""
    tz = load_zone(zone)
    local = after.astimezone(tz)
    for day in range(3):
        date = local.date() + dt.timedelta(days=day)
        for time in CHECK_TIMES:
            moment = dt.datetime.combine(date, time, tzinfo=tz).astimezone(dt.UTC)
            if moment > after:
                return moment
    raise AssertionError("unreachable: a check happens every day")


def _next_send(engine: sa.Engine, after: dt.datetime) -> dt.datetime | None:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(sa.func.min(OUTBOX.c.send_at)).where(
                (OUTBOX.c.status == MessageStatus.PENDING.value) & (OUTBOX.c.send_at > after)
            )
        ).scalar()
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def simulate(
    inputs: LoadedInputs,
    out: Path,
    *,
    start: dt.datetime,
    until: dt.datetime,
    scenario: Scenario | None = None,
    scenario_dir: Path = Path(),
    scenario_file: str = "scenario",
    progress: Callable[[dt.datetime, int], None] | None = None,
) -> SimulationResult:
    """Run the cohort from `start` to `until` against a fresh database in `out`.

    Cohort files named by the scenario are read relative to `scenario_dir`. Feeds are written
    to `out/calendars/` as they stand at `until`. An event the cohort in force cannot carry
    out (no such session, city or cohort file; a refused move) raises `InvalidInputError`
    naming `scenario_file` and the event.
    """
    out.mkdir(parents=True, exist_ok=True)
    database = out / "simulation.db"
    for stale in (database, out / "simulation.db-wal", out / "simulation.db-shm"):
        stale.unlink(missing_ok=True)
    mail = out / "outbox"
    if mail.exists():
        for old in mail.glob("*.eml"):
            old.unlink()
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    options = dispatch_options(Settings(send_concurrency=1))
    sender = FileSender(mail)
    result = SimulationResult(out)
    events = _numbered_events(scenario)
    zone = inputs.program.timezone
    current = inputs
    _remember(engine, start)  # first, so that a replay stopped half-way is a rehearsal too
    apply_cohort(engine, current, now=start)
    now = reached = start
    while True:
        result.steps += 1
        while events and events[0][1].at <= now:
            index, event = events.pop(0)
            where = Problem(scenario_file, f"events[{index}]", "")
            current = _perform(engine, current, event, now, scenario_dir, where)
        with engine.begin() as connection:
            check_deliverables(connection, inputs=current, now=now)
            notify_decision_points(connection, inputs=current, now=now)
        # The simulated clock stands still during a pass: how long the machine took to send
        # must not leak into the emails' Date headers (the replay is the same on any machine).
        # It only moves forward through due moments: a message it finds stale is stale in the
        # replay too, never a clock mistake, so the stale brake is off.
        asyncio.run(
            send_due_messages(
                engine,
                now=now,
                sender=sender,
                options=options,
                clock=_simulated_pass_clock,
                cancel_stale=True,
            )
        )
        if progress:
            progress(now, result.steps)
        reached = now
        candidates = [_next_check(now, zone)]
        if (pending := _next_send(engine, now)) is not None:
            candidates.append(pending)
        if events:
            candidates.append(max(events[0][1].at, now + dt.timedelta(seconds=1)))
        now = min(candidates)
        if now > until:
            break
    _remember(engine, reached)
    result.messages = _sent(engine)
    with engine.connect() as connection:
        result.feeds = export_feeds(connection, inputs=current, root=out / "calendars", now=until)
    engine.dispose()
    return result


def _remember(engine: sa.Engine, now: dt.datetime) -> None:
    """The replay's database is a rehearsal: the real clock is refused on it afterwards."""
    with engine.begin() as connection:
        record_rehearsal(connection, moment=now, set_by="accel simulate")


def _numbered_events(scenario: Scenario | None) -> list[tuple[int, ScenarioEvent]]:
    """The events with their place in the file, in the order they happen."""
    if scenario is None:
        return []
    numbered = list(enumerate(scenario.events))
    return sorted(numbered, key=lambda pair: pair[1].at.astimezone(dt.UTC))


def _perform(
    engine: sa.Engine,
    inputs: LoadedInputs,
    event: ScenarioEvent,
    now: dt.datetime,
    base: Path,
    where: Problem,
) -> LoadedInputs:
    """Carry out one scenario action at `now`; returns the cohort in force afterwards.

    What the event cannot do becomes a problem at its place in the scenario (`where`).
    """
    try:
        return _carry_out(engine, inputs, event, now, base)
    except (SessionChangeError, UnknownDeliverableError) as error:
        field = "session" if isinstance(error, SessionChangeError) else "deliverable"
        reason = str(error)
        cities = {c.id for c in inputs.cohort.cities}
        if isinstance(event, SubmitDeliverable) and event.city not in cities:
            field, reason = "city", f"no city {event.city!r} in {inputs.cohort.id}"
        message = f"at {now:%Y-%m-%dT%H:%MZ}: {reason}"
        raise InvalidInputError(
            [replace(where, place=f"{where.place}.{field}", message=message)]
        ) from None
    except InvalidInputError as error:  # the cohort file an apply_cohort event names
        message = "the cohort file named here cannot be used (see above)"
        raise InvalidInputError(
            [*error.problems, replace(where, place=f"{where.place}.cohort", message=message)]
        ) from None


def _carry_out(
    engine: sa.Engine, inputs: LoadedInputs, event: ScenarioEvent, now: dt.datetime, base: Path
) -> LoadedInputs:
    if isinstance(event, MoveSession):
        shift = None
        if event.shift is not None:
            shift = -event.shift if event.earlier else event.shift
        override_sessions(
            engine,
            inputs,
            pattern=event.session,
            now=now,
            starts_at=event.to,
            shift=shift,
            reason="scenario",
        )
    elif isinstance(event, CancelSession):
        override_sessions(
            engine, inputs, pattern=event.session, now=now, cancel=True, reason="scenario"
        )
    elif isinstance(event, SubmitDeliverable):
        with engine.begin() as connection:
            submit_deliverable(
                connection,
                cohort_id=inputs.cohort.id,
                city_id=event.city,
                deliverable=event.deliverable,
                link=str(event.link) if event.link else None,
                now=now,
            )
    elif isinstance(event, ApplyCohort):
        inputs = load_inputs(base / event.cohort)
        apply_cohort(engine, inputs, now=now)
    return inputs


def _sent(engine: sa.Engine) -> list[SentMessage]:
    query = (
        sa.select(
            OUTBOX.c.id,
            OUTBOX.c.kind,
            OUTBOX.c.email,
            OUTBOX.c.city_id,
            OUTBOX.c.sent_at,
            PERSON.c.timezone,
        )
        .join(
            PERSON, (PERSON.c.email == OUTBOX.c.email) & (PERSON.c.cohort_id == OUTBOX.c.cohort_id)
        )
        .where(OUTBOX.c.status == MessageStatus.SENT.value)
        .order_by(OUTBOX.c.sent_at, OUTBOX.c.id)
    )
    with engine.connect() as connection:
        return [SentMessage(*row) for row in connection.execute(query)]


def write_summary(result: SimulationResult) -> Path:
    """`summary.csv`: one row per (section, key) with a count, for spreadsheets."""
    path = result.out / "summary.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "key", "messages", "detail"])
        rows: list[list[object]] = []
        for section, counter in (
            ("kind", result.by_kind()),
            ("city", result.by_city()),
            ("week", result.by_week()),
        ):
            rows += [[section, key, count, ""] for key, count in sorted(counter.items())]
        for email, (day, count) in result.busiest_day_per_person().items():
            rows.append(["busiest_day", email, count, day.isoformat()])
        # Keys come from cohort files (ids, addresses): none may run as a formula.
        writer.writerows([spreadsheet_cell(value) for value in row] for row in rows)
    return path


def _simulated_pass_clock() -> float:
    """The dispatcher's pass clock in a replay: no time passes while a pass sends."""
    return 0.0
