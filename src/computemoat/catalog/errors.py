"""Turn pydantic validation errors into one-line, file:line messages with a hint."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from computemoat.catalog.yamlsource import Loc, YamlDoc
from computemoat.model.suggest import did_you_mean as suggest


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def fields_at(cls: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that the location ``loc`` (excluding its last part) points into."""
    current: type[BaseModel] | None = cls
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(str(part))
        current = _model_in(field.annotation) if field else None
    return list(current.model_fields) if current else []


def did_you_mean(value: str, choices: list[str]) -> str:
    return suggest(value, choices) or f"known keys: {', '.join(sorted(choices))}"


_HINTS = {
    "missing": "add this field",
    "greater_than": "must be positive",
    "greater_than_equal": "must not be negative",
    "less_than_equal": "value too large",
    "float_parsing": "give a number",
    "int_parsing": "give a whole number",
    "int_from_float": "give a whole number",
    "bool_parsing": "give true or false",
    "string_type": "give a text value",
    "list_type": "give a list, e.g. [a, b]",
    "tuple_type": "give a list, e.g. [a, b]",
    "dict_type": "give a mapping of key: value",
    "model_type": "give a mapping of key: value",
    "enum": "use one of the listed values",
    "literal_error": "use one of the listed values",
}


def _fraction_hint(loc: Loc, kind: str, value: object) -> str | None:
    """``share: 80`` is a percentage where a fraction is meant: say so, with the fraction to write."""
    name = str(loc[-1]) if loc else ""
    if kind not in ("less_than_equal", "less_than") or not any(w in name for w in ("share", "fraction")):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
        return f"shares are fractions: write {value / 100:g} for {value:g}%"
    return "shares are fractions between 0 and 1"


def pydantic_lines(
    doc: YamlDoc, err: ValidationError, cls: type[BaseModel], prefix: Loc = (), yaml_prefix: Loc | None = None
) -> list[str]:
    """One message per pydantic error. ``prefix`` is the path shown to the user, ``yaml_prefix`` the path
    in the YAML document used for the line number (defaults to ``prefix``)."""
    yaml_prefix = prefix if yaml_prefix is None else yaml_prefix
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = doc.where((*yaml_prefix, *loc))
        path = dotted((*prefix, *loc))
        kind = e["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            lines.append(f"{where}: {path}: unknown key ({did_you_mean(key, fields_at(cls, loc))})")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        hint = _fraction_hint(loc, kind, e.get("input")) or _HINTS.get(kind)
        lines.append(f"{where}: {path}: {msg}" + (f" ({hint})" if hint and hint not in msg else ""))
    return lines
