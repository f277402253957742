"""Reconcile: the difference between an expanded timeline and what the database holds (pure).

Rules: a session is matched by its stable key. A changed session keeps its key (so its UID) and
gets the next sequence. Each attendee is told only what changed in *their* copy: an update
when the time, place or details changed (or their own required flag), an invitation when they
are new, a removal when they were taken off; a change to the attendee list alone tells the
others nothing (each copy lists only its own recipient). A session missing from the timeline
is cancelled, never deleted. Sessions that started before `now` are history: they are never
changed, cancelled or notified.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from calendars.fingerprints import (
    decision_point_content,
    deliverable_content,
    fingerprint,
    person_content,
    session_content,
)
from calendars.timeline_types import Timeline, TimelineSession
from models.enums import RecordStatus


class Action(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    RESTORED = "restored"
    CANCELLED = "cancelled"
    INVITE = "invite"
    UPDATE = "update"
    CANCEL = "cancel"  # the session is cancelled for everyone
    REMOVE = "remove"  # the session goes on; this person is no longer expected at it


@dataclass(frozen=True)
class StoredSession:
    key: str
    city_id: str | None
    fingerprint: str
    status: str
    sequence: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str
    attendees: dict[str, tuple[bool, str]]  # email -> (required, status)


@dataclass(frozen=True)
class StoredItem:
    fingerprint: str
    status: str


@dataclass
class StoredState:
    sessions: dict[str, StoredSession] = field(default_factory=dict)
    deliverables: dict[str, StoredItem] = field(default_factory=dict)
    decision_points: dict[str, StoredItem] = field(default_factory=dict)
    people: dict[str, StoredItem] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionChange:
    action: Action
    key: str
    city_id: str | None
    sequence: int
    starts_at: dt.datetime
    what: tuple[str, ...] = ()  # for a change: time, place, details, attendees


@dataclass(frozen=True)
class InvitationChange:
    action: Action
    session_key: str
    email: str
    city_id: str | None
    sequence: int
    required: bool
    notify: bool  # False for a session already started at `now`: recorded, never sent


@dataclass(frozen=True)
class ItemChange:
    action: Action
    key: str
    city_id: str | None


@dataclass
class Plan:
    cohort_id: str
    now: dt.datetime
    sessions: list[SessionChange] = field(default_factory=list)
    invitations: list[InvitationChange] = field(default_factory=list)
    deliverables: list[ItemChange] = field(default_factory=list)
    decision_points: list[ItemChange] = field(default_factory=list)
    people: list[ItemChange] = field(default_factory=list)
    past_unchanged: list[str] = field(default_factory=list)  # would change, but already started

    @property
    def is_empty(self) -> bool:
        return not (
            self.sessions
            or self.invitations
            or self.deliverables
            or self.decision_points
            or self.people
        )

    def changes(self) -> list[dict[str, Any]]:
        """Every change as a JSON-able dict, in a stable order."""
        out: list[dict[str, Any]] = []
        for group, items in (
            ("session", self.sessions),
            ("invitation", self.invitations),
            ("deliverable", self.deliverables),
            ("decision_point", self.decision_points),
            ("person", self.people),
        ):
            for item in items:
                row = {"type": group, **asdict(item)}
                for name, value in row.items():
                    if isinstance(value, dt.datetime):
                        row[name] = value.isoformat().replace("+00:00", "Z")
                    elif isinstance(value, tuple):
                        row[name] = list(value)
                out.append(row)
        return out

    @property
    def added_already_started(self) -> list[SessionChange]:
        """New sessions that start before `now`: stored, but nobody is invited to them."""
        return [s for s in self.sessions if s.action is Action.ADDED and s.starts_at <= self.now]

    def message_counts(self) -> dict[str, int]:
        """Notices the plan would queue, per kind: invitations, updates, removals and
        cancellations. At most: the outbox sends a removal or cancellation only to someone
        already sent the invitation, and a first invitation waits until nearer its session."""
        names = {
            Action.INVITE: "invitations",
            Action.UPDATE: "updates",
            Action.REMOVE: "removals",
            Action.CANCEL: "cancellations",
        }
        counts = dict.fromkeys(names.values(), 0)
        for change in self.invitations:
            if change.notify:
                counts[names[change.action]] += 1
        return counts

    def counts_by_city(self) -> dict[str, Counter[str]]:
        """`{city or "(cohort)": Counter({"session added": n, "invite": m, ...})}`."""
        table: dict[str, Counter[str]] = {}
        for s in self.sessions:
            table.setdefault(s.city_id or "(cohort)", Counter())[f"session {s.action}"] += 1
        for i in self.invitations:
            if i.notify:
                table.setdefault(i.city_id or "(cohort)", Counter())[str(i.action)] += 1
        for d in self.deliverables:
            table.setdefault(d.city_id or "(cohort)", Counter())[f"deliverable {d.action}"] += 1
        return table


def _diff_items(
    wanted: dict[str, tuple[str, str | None]], stored: dict[str, StoredItem]
) -> list[ItemChange]:
    changes = []
    for key, (print_, city) in wanted.items():
        old = stored.get(key)
        if old is None:
            changes.append(ItemChange(Action.ADDED, key, city))
        elif old.status == RecordStatus.CANCELLED:
            changes.append(ItemChange(Action.RESTORED, key, city))
        elif old.fingerprint != print_:
            changes.append(ItemChange(Action.CHANGED, key, city))
    for key, old in stored.items():
        if key not in wanted and old.status != RecordStatus.CANCELLED:
            changes.append(ItemChange(Action.CANCELLED, key, None))
    return changes


def reconcile(timeline: Timeline, stored: StoredState, now: dt.datetime) -> Plan:
    """The changes that would bring the database to `timeline`, seen at `now`."""
    plan = Plan(timeline.cohort_id, now)
    city_of = {p.key: p.city_id for p in timeline.people.values()}
    for session in timeline.sessions:
        old = stored.sessions.get(session.key)
        if old is None:
            _add_session(plan, session, city_of)
        else:
            _change_session(plan, session, old, city_of)
    _cancel_missing_sessions(plan, stored.sessions, {s.key for s in timeline.sessions})
    plan.deliverables = _diff_items(
        {d.key: (fingerprint(deliverable_content(d)), d.city_id) for d in timeline.deliverables},
        stored.deliverables,
    )
    plan.decision_points = _diff_items(
        {
            d.key: (fingerprint(decision_point_content(d)), d.city_id)
            for d in timeline.decision_points
        },
        stored.decision_points,
    )
    plan.people = _diff_items(
        {p.key: (fingerprint(person_content(p)), p.city_id) for p in timeline.people.values()},
        stored.people,
    )
    plan.past_unchanged.sort()
    return plan


def _add_session(plan: Plan, session: TimelineSession, city_of: dict[str, str | None]) -> None:
    """A new session and an invitation per attendee (recorded, not sent, if already started)."""
    started = session.starts_at <= plan.now
    plan.sessions.append(
        SessionChange(Action.ADDED, session.key, session.city_id, 0, session.starts_at)
    )
    attendees = {a.person: a.required for a in session.attendees}
    plan.invitations.extend(
        InvitationChange(
            Action.INVITE,
            session.key,
            email,
            session.city_id or city_of.get(email),
            0,
            required,
            notify=not started,
        )
        for email, required in attendees.items()
    )


def _change_session(
    plan: Plan, session: TimelineSession, old: StoredSession, city_of: dict[str, str | None]
) -> None:
    """A stored session that differs: a raised sequence, updates, invitations, cancellations.

    A session that has started (before or after the change) is left as it is.
    """
    attendees = {a.person: a.required for a in session.attendees}
    active = {e for e, (_, status) in old.attendees.items() if status != RecordStatus.CANCELLED}
    restored = old.status == RecordStatus.CANCELLED
    what = _what_changed(session, old, attendees, active, restored)
    if not what:
        return
    if old.starts_at <= plan.now or session.starts_at <= plan.now:
        plan.past_unchanged.append(session.key)
        return
    sequence = old.sequence + 1
    action = Action.RESTORED if restored else Action.CHANGED
    plan.sessions.append(
        SessionChange(action, session.key, session.city_id, sequence, session.starts_at, what)
    )
    # What every attendee's own copy shows changed; the attendee list alone is not in it.
    everyone_told = bool({"restored", "time", "place", "details"} & set(what))
    for email, required in attendees.items():
        if email not in active or restored:
            kind = Action.INVITE
        elif everyone_told or old.attendees[email][0] != required:
            kind = Action.UPDATE
        else:
            continue  # their invitation reads the same: nothing to send, sequence unchanged
        plan.invitations.append(
            InvitationChange(
                kind,
                session.key,
                email,
                session.city_id or city_of.get(email),
                sequence,
                required,
                notify=True,
            )
        )
    for email in sorted(active - attendees.keys()):
        plan.invitations.append(
            InvitationChange(
                Action.REMOVE,
                session.key,
                email,
                session.city_id or city_of.get(email),
                sequence,
                old.attendees[email][0],
                notify=True,
            )
        )


def _what_changed(
    session: TimelineSession,
    old: StoredSession,
    attendees: dict[str, bool],
    active: set[str],
    restored: bool,
) -> tuple[str, ...]:
    """What an update says changed: restored, time, place, details (only alone), attendees."""
    what = []
    if restored:
        what.append("restored")
    if (old.starts_at, old.ends_at) != (session.starts_at, session.ends_at):
        what.append("time")
    if old.location != session.location:
        what.append("place")
    moved = {"time", "place"} & set(what)
    if old.fingerprint != fingerprint(session_content(session)) and not moved:
        what.append("details")
    required_changed = any(old.attendees[e][0] != attendees[e] for e in active & attendees.keys())
    if active != attendees.keys() or required_changed:
        what.append("attendees")
    return tuple(what)


def _cancel_missing_sessions(
    plan: Plan, stored: dict[str, StoredSession], wanted_keys: set[str]
) -> None:
    """Stored sessions the timeline no longer has: cancelled for every active attendee."""
    for key, old in stored.items():
        if key in wanted_keys or old.status == RecordStatus.CANCELLED:
            continue
        if old.starts_at <= plan.now:
            plan.past_unchanged.append(key)
            continue
        sequence = old.sequence + 1
        plan.sessions.append(
            SessionChange(Action.CANCELLED, key, old.city_id, sequence, old.starts_at)
        )
        for email, (required, status) in sorted(old.attendees.items()):
            if status != RecordStatus.CANCELLED:
                plan.invitations.append(
                    InvitationChange(
                        Action.CANCEL, key, email, old.city_id, sequence, required, notify=True
                    )
                )
