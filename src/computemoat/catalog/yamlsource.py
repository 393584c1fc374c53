"""YAML with positions: parse once, remember the line of every mapping key and sequence item, so a
validation error can say ``file:line: path.to.field: problem``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from computemoat.model import UserError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    path: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest known prefix of ``loc`` (1-based); 1 if nothing matches."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1

    def where(self, loc: Loc) -> str:
        return f"{self.path}:{self.line_of(loc)}"


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping

    def construct_bad_date_safely(self, node: yaml.ScalarNode) -> Any:
        """A date-shaped scalar that is no date (2027-13-45) is the user's mistake, not a crash."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as e:
            raise _BadValue(f"{node.value!r} is not a date ({e}): write YYYY-MM-DD", node.start_mark) from None


class _BadValue(yaml.MarkedYAMLError):
    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_bad_date_safely)


def read_yaml(path: str | Path) -> YamlDoc:
    """Parse ``path``; malformed YAML becomes a one-line UserError with the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{p}: no such file (check the path)") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text (byte {e.start}); save the file as UTF-8 YAML") from None
    except OSError as e:
        raise UserError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        loader = _UniqueKeyLoader(text)  # one parse: the node tree gives lines, the same tree the data
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _BadValue as e:
        line = f"{e.problem_mark.line + 1}" if e.problem_mark else "1"
        raise UserError(f"{p}:{line}: {e.problem}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"{mark.line + 1}" if mark else "1"
        what = e.problem or e.context or "malformed YAML"
        raise UserError(f"{p}:{line}: malformed YAML: {what} (check indentation, colons and quotes)") from None
    except yaml.YAMLError as e:
        raise UserError(f"{p}: malformed YAML: {e}") from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(str(p), data, lines)
