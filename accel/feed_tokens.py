"""Secret feed URLs: issuing, rotating and resolving tokens, of which only the SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from models.feed_tokens import FEED_TOKEN

TOKEN_BYTES = 32  # 256 bits: the URL is the password, so it must be unguessable
# What `secrets.token_urlsafe(32)` gives: 43 base64url characters, no padding.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, order=True)
class FeedSubject:
    """Whose feed a token opens: a person (by lower-case email) or a city (by id)."""

    cohort_id: str
    subject_type: str  # "person" or "city"
    subject: str


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The stored form of a token.

    >>> token_hash("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_well_formed(token: str) -> bool:
    """Whether `token` could have been issued here: checked before any database access."""
    return _WELL_FORMED.fullmatch(token) is not None


def find_subject(connection: sa.Connection, *, token: str) -> FeedSubject | None:
    """The subject of a live token, or None for a malformed, unknown or revoked one."""
    if not is_well_formed(token):
        return None
    wanted = token_hash(token)
    row = connection.execute(
        sa.select(
            FEED_TOKEN.c.cohort_id,
            FEED_TOKEN.c.subject_type,
            FEED_TOKEN.c.subject,
            FEED_TOKEN.c.token_hash,
        )
        .where(FEED_TOKEN.c.token_hash == wanted)
        .where(FEED_TOKEN.c.revoked_at.is_(None))
    ).first()
    # The index lookup is not constant-time; the final comparison is.
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return FeedSubject(row.cohort_id, row.subject_type, row.subject)


def subjects_with_tokens(connection: sa.Connection, *, cohort_id: str) -> set[FeedSubject]:
    """Subjects of the cohort that have a live token (whose plaintext is no longer known)."""
    rows = connection.execute(
        sa.select(FEED_TOKEN.c.subject_type, FEED_TOKEN.c.subject)
        .where(FEED_TOKEN.c.cohort_id == cohort_id)
        .where(FEED_TOKEN.c.revoked_at.is_(None))
    )
    return {FeedSubject(cohort_id, row.subject_type, row.subject) for row in rows}


def issue_token(connection: sa.Connection, *, subject: FeedSubject, now: dt.datetime) -> str:
    """A new token for a subject without a live one; the caller shows it once, it is not kept."""
    if subject.subject_type not in ("person", "city"):
        raise ValueError(f"unknown feed subject type {subject.subject_type!r}")
    token = new_token()
    connection.execute(
        sa.insert(FEED_TOKEN).values(
            cohort_id=subject.cohort_id,
            subject_type=subject.subject_type,
            subject=subject.subject,
            token_hash=token_hash(token),
            created_at=now,
            revoked_at=None,
        )
    )
    return token


def issue_missing_tokens(
    connection: sa.Connection, *, cohort_id: str, subjects: Iterable[FeedSubject], now: dt.datetime
) -> dict[FeedSubject, str]:
    """Tokens for the subjects that have none; those that have one keep it."""
    existing = subjects_with_tokens(connection, cohort_id=cohort_id)
    return {
        subject: issue_token(connection, subject=subject, now=now)
        for subject in sorted(set(subjects) - existing)
    }


def rotate_token(connection: sa.Connection, *, subject: FeedSubject, now: dt.datetime) -> str:
    """Revoke the subject's live token (if any) and issue a new one, in the caller's transaction."""
    revoke_tokens(
        connection,
        cohort_id=subject.cohort_id,
        subject_type=subject.subject_type,
        subjects=[subject.subject],
        now=now,
    )
    return issue_token(connection, subject=subject, now=now)


def revoke_tokens(
    connection: sa.Connection,
    *,
    cohort_id: str,
    subject_type: str,
    subjects: Iterable[str],
    now: dt.datetime,
) -> int:
    """Revoke the live tokens of these subjects (people who left, cities removed), in the
    caller's transaction: from its commit their feeds and pages answer 404. A subject that
    comes back gets a new token from `accel feeds`; a revoked one is never live again."""
    wanted = sorted(set(subjects))
    if not wanted:
        return 0
    result = connection.execute(
        sa.update(FEED_TOKEN)
        .where(FEED_TOKEN.c.cohort_id == cohort_id)
        .where(FEED_TOKEN.c.subject_type == subject_type)
        .where(FEED_TOKEN.c.subject.in_(wanted))
        .where(FEED_TOKEN.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def feed_urls(public_base_url: str, token: str) -> tuple[str, str]:
    """The https (or http) URL of a feed, and its webcal:// twin that opens a calendar app.

    >>> feed_urls("https://cal.example.org/", "T")
    ('https://cal.example.org/calendars/T.ics', 'webcal://cal.example.org/calendars/T.ics')
    """
    url = f"{public_base_url.rstrip('/')}/calendars/{token}.ics"
    return url, re.sub(r"^https?://", "webcal://", url)
