"""Safe YAML reading that keeps the line of every value, refuses aliases, tags and duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from models.problems import Problem, format_place

MAX_FILE_BYTES = 1_000_000  # a cohort of 1,000 cities is about 400 KB


# The C loader when libyaml is there (5-10x faster on a 1,000-city cohort); same safe rules.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The tags plain YAML resolves to. Anything else (!!python/..., !!binary, !!set, merge keys `<<`,
# custom !tags) is refused before construction: these files hold text, numbers, dates and lists.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with impossible dates (2024-02-30) reported at their line."""


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as error:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a valid date {node.value!r} ({error})", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class AliasError(ValueError):
    """An alias (`*name`): it enables billion-laughs bombs and is never needed in these files."""


class TagError(ValueError):
    """A tag that would construct something other than plain data."""


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
    if node.tag not in _PLAIN_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise TagError(f"tags such as {tag}", node.start_mark.line + 1)
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:str" or not isinstance(key_node, yaml.ScalarNode):
                # A merge key `<<`, a tagged key or a list as a key: none belongs in these files.
                what = (
                    "merge keys (<<)" if key_node.tag.endswith(":merge") else "keys other than text"
                )
                raise TagError(what, key_node.start_mark.line + 1)
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
    except TagError as error:
        return None, [
            Problem(
                file,
                "",
                f"{error.args[0]} are not allowed in program and cohort files: they hold plain "
                f"text, numbers, dates and lists (line {error.args[1]})",
            )
        ]
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        char = error.character
        shown = f"U+{char:04X}" if isinstance(char, int) else f"U+{ord(char[:1] or ' '):04X}"
        return None, [
            Problem(
                file, "", f"malformed YAML: line {line}: {shown} is not allowed ({error.reason})"
            )
        ]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [Problem(file, "", f"malformed YAML: {where}{error.problem or error.context}")]
    except (yaml.YAMLError, ValueError, OverflowError) as error:
        return None, [Problem(file, "", f"malformed YAML: {error}")]
    except RecursionError:
        return None, [Problem(file, "", "malformed YAML: nested too deeply")]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [Problem(file, "", "the file must be a mapping of keys to values")]
    return YamlDocument(file, data, lines), problems
