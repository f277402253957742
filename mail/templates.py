"""Render email subjects and bodies from the Jinja2 templates, in the recipient's language.

Templates are the package data of `email_templates` (`<language>/<kind>.subject.txt|.txt|.html`),
found through the import system, wherever the package is installed. They are only ever loaded
from there: data fills them, data never becomes a template.

Context keys expected per kind (`CONTEXT_KEYS`); nested values may be mappings or objects with
these attributes. Instants are aware datetimes (UTC); they are shown in `recipient.timezone`.

Every kind:
    recipient   name, timezone (IANA name, e.g. "America/Santiago")
    sender      name, email, reply_to (str or None: replies then go to `email`)
    program     name (already in the recipient's language)

invitation, cancellation, session_reminder:
    session     title, description (str or None), starts_at, ends_at, location (str, may be
                empty), meeting_url (str or None; links only for http/https), interpreted (bool:
                English with simultaneous interpretation)
update:
    session     as above, the new state
    previous    starts_at, ends_at, location: the values before the change (shown when different)
deliverable_due (to the owners, before the deadline):
    city        name
    deliverable title, due_at, owners (sequence of {name, email})
    coach       name, email
deliverable_overdue (to the team):
    city, deliverable, coach as above; days_overdue (int, at least 1)
overdue_escalation_coach (to the city's coach):
    city, deliverable, days_overdue as above
overdue_escalation_mayor (to the mayor):
    city, deliverable, coach, days_overdue as above
decision_point (to the mayor):
    city        name
    decision    title, question (what is to be decided)
    checkin     title, starts_at, ends_at, meeting_url: the check-in where it is decided (by when)
    deliverables  sequence of {title, due_at, status}; status is a `DecisionDeliverableState` value

`language` is set by `render_email` to the language actually used (after fallback), so dates
are written in the same language as the text around them.

`mail/shared_renderer.py` renders the many recipients of one message from one template run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final
from urllib.parse import urlsplit

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Undefined,
    select_autoescape,
)

from calendars.local_time import (
    format_local_date,
    format_local_datetime,
    format_local_span,
    format_local_time,
)
from mail.addressing import greeting

TEMPLATES: Final = resources.files("email_templates")
FALLBACK_LANGUAGE: Final = "en"
PARTS: Final = ("subject.txt", "txt", "html")


class DecisionDeliverableState(StrEnum):
    """A deliverable's state as listed in a decision-point email."""

    COMPLETED = "completed"
    PENDING = "pending"  # not yet due
    OVERDUE = "overdue"


_COMMON: Final = frozenset({"recipient", "sender", "program"})
CONTEXT_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "invitation": _COMMON | {"session"},
    "update": _COMMON | {"session", "previous"},
    "cancellation": _COMMON | {"session"},
    "removal": _COMMON | {"session"},
    "session_reminder": _COMMON | {"session"},
    "deliverable_due": _COMMON | {"city", "deliverable", "coach"},
    "deliverable_overdue": _COMMON | {"city", "deliverable", "coach", "days_overdue"},
    "overdue_escalation_coach": _COMMON | {"city", "deliverable", "days_overdue"},
    "overdue_escalation_mayor": _COMMON | {"city", "deliverable", "coach", "days_overdue"},
    "decision_point": _COMMON | {"city", "decision", "checkin", "deliverables"},
}
KINDS: Final = tuple(CONTEXT_KEYS)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str  # one line
    text: str
    html: str


def is_http_url(value: object) -> bool:
    """Only http(s) links are clickable: a `javascript:` URL in data must never become a link.

    >>> is_http_url("https://meet.example.org/cda-2024/santiago"), is_http_url("javascript:x")
    (True, False)
    """
    if isinstance(value, Undefined):
        str(value)  # raises under StrictUndefined: a missing URL is a mistake, not "no link"
    return isinstance(value, str) and _is_http_url_text(str(value))


@lru_cache(maxsize=1024)
def _is_http_url_text(value: str) -> bool:
    if any(c.isspace() or c in "\"'<>" for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


@cache
def template_environment() -> Environment:
    """The one Jinja2 environment: HTML autoescaped, any missing value an error."""
    env = Environment(
        loader=PackageLoader("email_templates", ""),  # re-read when a file changes
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local_datetime"] = format_local_datetime
    env.filters["local_date"] = format_local_date
    env.filters["local_time"] = format_local_time
    env.filters["local_span"] = format_local_span
    env.tests["http_url"] = is_http_url
    env.filters["greeting"] = recipient_greeting
    return env


def recipient_greeting(recipient: Any, language: str) -> str:
    """The greeting line for `recipient` (a mapping or an object with `name` and, optionally,
    `addressing`): "Estimada alcaldesa Fuentes:", or "Hola, Carlos Soto:" without a title."""

    def field(name: str) -> Any:
        if isinstance(recipient, Mapping):
            return recipient.get(name)
        return getattr(recipient, name, None)

    addressing = field("addressing")
    if isinstance(addressing, tuple):  # a timeline Person's: pairs, as in its addressing_json()
        addressing = {k: dict(v) if isinstance(v, tuple) else v for k, v in addressing}
    return greeting(str(field("name")), language, addressing if addressing else None)


def localized(texts: Mapping[str, str], language: str) -> str:
    """A text of the program or cohort files in `language`, else in English.

    >>> localized({"en": "Coaching session", "es": "Sesión de coaching"}, "pt")
    'Coaching session'
    """
    return texts.get(language) or texts[FALLBACK_LANGUAGE]


def resolve_language(kind: str, language: str) -> str:
    """The language used for `kind`: the recipient's when all three templates exist, else English.

    >>> resolve_language("invitation", "es-CL"), resolve_language("invitation", "fr")
    ('es', 'en')
    """
    _check_kind(kind)
    primary = str(language).strip().lower().replace("_", "-").split("-")[0]
    # Only plain language codes reach the file system, so no name can walk out of the folder.
    if primary.isascii() and primary.isalpha() and _has_all_parts(kind, primary):
        return primary
    return FALLBACK_LANGUAGE


def render_email(kind: str, language: str, context: Mapping[str, object]) -> RenderedEmail:
    """Subject, plain text and HTML of one message for one recipient."""
    used = checked_language(kind, language, context)
    return finished(rendered_parts(template_environment(), kind, used, context))


def checked_language(kind: str, language: str, context: Mapping[str, object]) -> str:
    """The language used for `kind`, once the context is known to have every key it needs."""
    _check_kind(kind)
    missing = CONTEXT_KEYS[kind] - context.keys()
    if missing:
        raise ValueError(f"{kind} email: the context lacks {', '.join(sorted(missing))}")
    return resolve_language(kind, language)


def rendered_parts(
    env: Environment, kind: str, used: str, context: Mapping[str, object]
) -> tuple[str, str, str]:
    """The three templates' output as rendered: subject, text, HTML."""
    values = {**context, "language": used}
    subject, text, html = (
        env.get_template(f"{used}/{kind}.{part}").render(values) for part in PARTS
    )
    return subject, text, html


def finished(parts: Sequence[str]) -> RenderedEmail:
    """The rendered subject, text and HTML as one email."""
    subject, text, html = parts
    # A header is one line: CR/LF from data or template layout must not reach it.
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)


def _check_kind(kind: str) -> None:
    if kind not in CONTEXT_KEYS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of: {', '.join(KINDS)}")


@lru_cache(maxsize=256)
def _has_all_parts(kind: str, language: str) -> bool:
    return all((TEMPLATES / language / f"{kind}.{part}").is_file() for part in PARTS)
