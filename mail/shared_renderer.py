"""Render the many recipients of one message (a session's invitation, say) from one template run.

The templates print `recipient.name` as it is and nothing else about the recipient but the
time zone, so everything else is rendered once per kind, language and context, and each
recipient's name is put in the places the name was printed. Whether a template does only
that is read from its syntax tree (`_name_only_printed`), and checked once against a
rendering for the recipient.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from jinja2 import Environment, TemplateError, nodes
from markupsafe import escape

from mail.templates import (
    PARTS,
    RenderedEmail,
    checked_language,
    finished,
    rendered_parts,
    template_environment,
)

# Stands in for a recipient's name. '<' and '&' show whether a template escaped the name (HTML)
# or printed it as it is (text); the private-use characters occur in no real text.
_STAND_IN: Final = "\ue000<&Stand-in name>\ue001"


@dataclass(frozen=True)
class _Split:
    """A part rendered for no one: the text between the places where the name goes."""

    pieces: tuple[str, ...]
    escaped: bool  # the name is HTML-escaped there

    def join(self, name: str) -> str:
        return (str(escape(name)) if self.escaped else name).join(self.pieces)


class SharedRenderer:
    """`render_email` for many recipients of the same message, rendering each message once.

    The result for a recipient is what `render_email` returns for them. A context is shared
    when it is plain data (mappings, sequences, strings, numbers, instants, enums) and its
    `recipient` is a mapping whose `name` is a non-empty string, and when the templates of its
    kind and language, with every template they extend, include or import, print the name
    unchanged and use nothing else of the recipient but the time zone (`_name_only_printed`).
    Such a message is rendered once with a stand-in name, and each recipient's name fills the
    stand-in's places. The first time a kind and language are shared, the result is also
    checked against a rendering for the recipient; if they differ, that kind and language are
    never shared. Anything else is rendered for the recipient alone.

    The last `maxsize` messages are kept. Templates are read from their files again by a new
    renderer only: one is made per dispatch pass. `environment` (tests) replaces the templates.
    """

    def __init__(self, maxsize: int = 512, *, environment: Environment | None = None) -> None:
        self.environment = environment or template_environment()
        self.maxsize = maxsize
        self.shared = 0  # messages filled in from a shared rendering
        self._messages: OrderedDict[Hashable, tuple[_Split, ...] | None] = OrderedDict()
        self._shareable: dict[tuple[str, str], bool] = {}  # (kind, language): checked
        self._checked: set[tuple[str, str]] = set()

    def render(self, kind: str, language: str, context: Mapping[str, object]) -> RenderedEmail:
        used = checked_language(kind, language, context)
        key = _shared_key(kind, used, context)
        recipient = context["recipient"]
        if key is None or not isinstance(recipient, Mapping):
            return finished(rendered_parts(self.environment, kind, used, context))
        name: str = recipient["name"]  # a string: _shared_key checked it
        if key in self._messages:
            self._messages.move_to_end(key)
            split = self._messages[key]
        else:
            split = self._split(kind, used, context, recipient)
            self._messages[key] = split
            if len(self._messages) > self.maxsize:
                self._messages.popitem(last=False)
        if split is not None and (kind, used) not in self._checked:
            parts = rendered_parts(self.environment, kind, used, context)
            if tuple(part.join(name) for part in split) != parts:
                self._shareable[kind, used] = False
                self._messages.clear()  # nothing of this kind and language is shared again
                return finished(parts)
            self._checked.add((kind, used))
        if split is None or not self._shareable[kind, used]:
            return finished(rendered_parts(self.environment, kind, used, context))
        self.shared += 1
        return finished([part.join(name) for part in split])

    def _split(
        self, kind: str, used: str, context: Mapping[str, object], recipient: Mapping[str, object]
    ) -> tuple[_Split, ...] | None:
        """The message rendered around the name, or None when it is not to be shared."""
        shareable = self._shareable.get((kind, used))
        if shareable is None:
            names = [f"{used}/{kind}.{part}" for part in PARTS]
            shareable = self._shareable[kind, used] = _name_only_printed(self.environment, names)
        if not shareable:
            return None
        stand_in = {**context, "recipient": {**recipient, "name": _STAND_IN}}
        splits = [
            _split_at(part, _STAND_IN)
            for part in rendered_parts(self.environment, kind, used, stand_in)
        ]
        checked = tuple(split for split in splits if split is not None)
        return checked if len(checked) == len(splits) else None


def _split_at(rendered: str, stand_in: str) -> _Split | None:
    """The text around `stand_in`, printed either escaped or as it is, never both."""
    escaped = str(escape(stand_in))
    if stand_in in rendered and escaped in rendered:
        return None
    if escaped in rendered:
        return _Split(tuple(rendered.split(escaped)), escaped=True)
    return _Split(tuple(rendered.split(stand_in)), escaped=False)


def _shared_key(kind: str, used: str, context: Mapping[str, object]) -> Hashable | None:
    """What a shared rendering depends on: everything but the recipient's name; None if unsure."""
    recipient = context.get("recipient")
    if not isinstance(recipient, Mapping) or not isinstance(recipient.get("name"), str):
        return None
    if not recipient["name"] or type(recipient["name"]) is not str:
        return None
    rest = {k: v for k, v in recipient.items() if k != "name"}
    frozen = _frozen({**context, "recipient": rest})
    return None if frozen is None else (kind, used, frozen)


_EXACT: Final = frozenset({str, int, float, bool, type(None)})
_ATOMS: Final = (str, int, float, bool, type(None), dt.date, dt.time, dt.timedelta, Enum)


def _frozen(value: object) -> Hashable | None:
    """A hashable copy of plain data, in order and with each value's type; None for other data.

    Order and types are kept because values that compare equal may print differently (`True`
    and `1`; the same instant in two zones; a mapping's items in another order).
    """
    kind = type(value)
    if kind in _EXACT:
        return (kind, value)
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            frozen = _frozen(item)
            if type(key) is not str or frozen is None:
                return None
            items.append((key, frozen))
        return (kind, tuple(items))
    if isinstance(value, list | tuple):
        frozen_items = [_frozen(item) for item in value]
        if any(item is None for item in frozen_items):
            return None
        return (kind, tuple(frozen_items))
    if isinstance(value, dt.datetime | dt.time):
        return (kind, value.isoformat(), value.fold, repr(value.tzinfo))
    if isinstance(value, _ATOMS):
        return (kind, value)
    return None


def _name_only_printed(env: Environment, templates: Sequence[str]) -> bool:
    """Whether these templates, and those they use, print `recipient.name` unchanged only.

    Checked on their syntax trees, so that the name can reach a message in one way only,
    `{{ recipient.name }}` (escaped where the template escapes): `recipient` is never assigned
    and is read only as `recipient.timezone` or in `{{ recipient.name }}`; that is not inside
    a macro, whose output a caller could change; no template captures rendered text in a
    `{% filter %}` or `{% set %}` block, or includes a template or places a block inside a
    macro; and `caller()`, `super()` and `self.<block>()` are only ever printed as they are.
    """
    loader = env.loader
    assert loader is not None
    seen: set[str] = set()
    todo = list(templates)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            tree = env.parse(loader.get_source(env, name)[0], name)
        except TemplateError:
            return False
        for use in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            used = getattr(use, "template", None)
            if not isinstance(used, nodes.Const) or not isinstance(used.value, str):
                return False
            todo.append(used.value)
        if not _prints_the_name_only(tree, ()):
            return False
    return True


_CAPTURING: Final = (nodes.FilterBlock, nodes.AssignBlock)
_RENDERED_TEXT: Final = frozenset({"caller", "super", "self"})  # calls that return template output


def _prints_the_name_only(node: nodes.Node, parents: tuple[nodes.Node, ...]) -> bool:
    in_macro = any(isinstance(p, nodes.Macro) for p in parents)
    if isinstance(node, _CAPTURING) or (in_macro and isinstance(node, nodes.Include | nodes.Block)):
        return False
    if isinstance(node, nodes.Name):
        if node.name == "recipient" and not _reads_recipient_well(node, parents, in_macro):
            return False
        if node.name in _RENDERED_TEXT and not _printed_as_it_is(node, parents):
            return False
    return all(_prints_the_name_only(child, (*parents, node)) for child in node.iter_child_nodes())


def _reads_recipient_well(
    name: nodes.Name, parents: tuple[nodes.Node, ...], in_macro: bool
) -> bool:
    """`recipient.timezone`, or `{{ recipient.name }}` outside macros."""
    if name.ctx != "load" or len(parents) < 2 or not isinstance(parents[-1], nodes.Getattr):
        return False
    if parents[-1].attr == "timezone":
        return True
    return parents[-1].attr == "name" and isinstance(parents[-2], nodes.Output) and not in_macro


def _printed_as_it_is(name: nodes.Name, parents: tuple[nodes.Node, ...]) -> bool:
    """`{{ caller(…) }}`, `{{ super() }}` or `{{ self.<block>() }}`, nothing else."""
    call = parents[:-1] if name.name == "self" else parents
    if name.name == "self" and not (parents and isinstance(parents[-1], nodes.Getattr)):
        return False
    return (
        name.ctx == "load"
        and len(call) >= 2
        and isinstance(call[-1], nodes.Call)
        and call[-1].node is (parents[-1] if name.name == "self" else name)
        and isinstance(call[-2], nodes.Output)
    )
