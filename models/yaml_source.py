"""Safe YAML reading that keeps the line of every value, refuses aliases, tags and duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from models.problems import Problem, format_place

MAX_FILE_BYTES = 1_000_000  # a cohort of 1,000 cities is about 400 KB


# The C loader when libyaml is there (5-10x faster on a 1,000-city cohort); same safe rules.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasError(ValueError):
    """An alias (`*name`): it enables billion-laughs bombs and is never needed in these files."""


@dataclass
class YamlDocument:
    file: str
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, location: tuple[str | int, ...]) -> int | None:
        """The line of the deepest known node on `location`."""
        for end in range(len(location), -1, -1):
            if (found := self.lines.get(tuple(location[:end]))) is not None:
                return found
        return None


def _index_lines(
    node: yaml.Node,
    path: tuple[str | int, ...],
    out: dict[tuple[str | int, ...], int],
    problems: list[Problem],
    file: str,
    seen_nodes: set[int],
) -> None:
    """Record the line of every value; an alias shows up as a node met twice and is refused."""
    if id(node) in seen_nodes:
        raise AliasError(node.start_mark.line + 1)
    seen_nodes.add(id(node))
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        format_place((*path, key)),
                        "duplicate key",
                        line=key_node.start_mark.line + 1,
                    )
                )
            seen.add(key)
            _index_lines(value_node, (*path, key), out, problems, file, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out, problems, file, seen_nodes)


def parse_yaml(raw: bytes, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse `raw` as one YAML document; problems name the file, line and column."""
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(file, "", f"file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem(file, "", f"not UTF-8 text (byte {error.start})")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, "", "the file is empty")]
        problems: list[Problem] = []
        lines: dict[tuple[str | int, ...], int] = {}
        _index_lines(node, (), lines, problems, file, set())
        data = loader.construct_document(node)
    except AliasError as error:
        return None, [
            Problem(
                file,
                "",
                "aliases (*name) are not allowed in program and cohort "
                f"files (line {error.args[0]})",
            )
        ]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [Problem(file, "", f"malformed YAML: {where}{error.problem or error.context}")]
    except yaml.YAMLError as error:
        return None, [Problem(file, "", f"malformed YAML: {error}")]
    except RecursionError:
        return None, [Problem(file, "", "malformed YAML: nested too deeply")]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [Problem(file, "", "the file must be a mapping of keys to values")]
    return YamlDocument(file, data, lines), problems
