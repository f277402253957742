"""How an email greets its recipient and whom it copies, from the person's stored addressing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The plain greeting, with the full name: "Hola, Carlos Soto:".
_PLAIN = {"es": "Hola, {name}:", "en": "Dear {name},", "pt": "Olá, {name},"}
# With a title: "Estimada alcaldesa Fuentes:", "Dear Mayor Fuentes,", "Prezada prefeita Fuentes,".
_TITLED = {"es": "{salutation} {title} {family}:", "en": "{salutation} {title} {family},"}
_TITLED_DEFAULT = "{salutation} {title} {family},"
# Spanish and Portuguese write a title in a greeting in lower case; English keeps "Mayor".
_LOWER_TITLES = frozenset({"es", "pt"})


def greeting(name: str, language: str, addressing: Mapping[str, Any] | None) -> str:
    """The greeting line of an email to this person, in their language.

    >>> greeting("Valentina Fuentes", "es", {"title": {"es": "Alcaldesa"},
    ...          "salutation": {"es": "Estimada"}})
    'Estimada alcaldesa Fuentes:'
    >>> greeting("Carlos Soto", "pt", None)
    'Olá, Carlos Soto,'
    """
    address = addressing or {}
    title = (address.get("title") or {}).get(language)
    salutation = (address.get("salutation") or {}).get(language)
    if not title or not salutation:
        return _PLAIN.get(language, _PLAIN["en"]).format(name=name)
    family = address.get("family_name") or name.split()[-1]
    if language in _LOWER_TITLES:
        title = title[:1].lower() + title[1:]
    return _TITLED.get(language, _TITLED_DEFAULT).format(
        salutation=salutation, title=title, family=family
    )


def titled_name(name: str, language: str, addressing: Mapping[str, Any] | None) -> str:
    """The name with its title, as in "Alcaldesa Valentina Fuentes" (the name alone without)."""
    title = ((addressing or {}).get("title") or {}).get(language)
    return f"{title} {name}" if title else name


def copied(addressing: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Who is copied (Cc) on this person's emails: a mayor's assistant, if the cohort names one."""
    assistant = (addressing or {}).get("assistant")
    return (assistant,) if isinstance(assistant, str) and assistant else ()
