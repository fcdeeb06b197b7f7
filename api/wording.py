"""The customer's words: journey titles, form fields, choices and validation messages in their language.

Step labels come from the definitions (router/language/labels.py); everything else a customer reads is in
definitions/labels/customer/<locale>.yaml. A form is described to the page field by field (its name in the
customer's words, the kind of input, the choices) rather than as a JSON Schema, and what the schema refuses
comes back per field in the same words. Messages never echo what was typed. Pure: no I/O but `load`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from router.language.labels import LABELS_DIR

WORDING_DIR = LABELS_DIR / "customer"
SOURCE = "en"  # the definitions' own language: what a customer gets when no catalogue speaks theirs

Wording = Mapping[str, Mapping[str, Mapping[str, str]]]  # locale -> section -> key -> text


def load(directory: Path = WORDING_DIR) -> dict[str, dict[str, dict[str, str]]]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted(directory.glob("*.yaml"))}


def _lookup(wording: Wording, locale: str, section: str, *keys: str) -> str | None:
    """The first of `keys` that `locale` (then its language, then the source language) has in `section`."""
    for candidate in dict.fromkeys([locale, locale.split("-")[0], SOURCE]):
        texts = wording.get(candidate, {}).get(section, {})
        for key in keys:
            if key in texts:
                return str(texts[key])
    return None


def words(name: str) -> str:
    """A field no catalogue names, made readable: `line1` -> `Line 1`, `postcode` -> `Postcode`."""
    spaced = "".join(f" {c}" if c.isdigit() and i and not name[i - 1].isdigit() else c for i, c in enumerate(name))
    text = spaced.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def page(wording: Wording, locale: str) -> dict[str, str]:
    """The page's own words (buttons, headings, notices) in `locale`, English where it has none."""
    texts = dict(wording.get(SOURCE, {}).get("page", {}))
    for candidate in dict.fromkeys([locale.split("-")[0], locale]):
        texts |= wording.get(candidate, {}).get("page", {})
    return {k: str(v) for k, v in texts.items()}


def title(wording: Wording, locale: str, definition_id: str) -> str:
    """The journey as the customer knows it: never the staff title (`maker-checker, CAP-090`)."""
    return _lookup(wording, locale, "titles", definition_id) or page(wording, locale).get("default_title", "")


def fields(wording: Wording, locale: str, definition_id: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every input the schema asks for, flattened to dotted names; a nested object's fields carry its name as
    their `group`, so the page draws them as one fieldset."""
    return list(_fields(wording, locale, definition_id, schema, ""))


def _fields(
    wording: Wording, locale: str, definition_id: str, schema: dict[str, Any], prefix: str, group: str | None = None
) -> Iterator[dict[str, Any]]:
    required = set(schema.get("required", []))
    for key, spec in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        label = _lookup(wording, locale, "fields", f"{definition_id}.{path}", path) or words(key)
        if spec.get("type") == "object" and "properties" in spec:
            yield from _fields(wording, locale, definition_id, spec, f"{path}.", label)
            continue
        yield {
            "name": path,
            "label": label,
            "kind": _kind(spec),
            "required": key in required,
            "group": group,
            "choices": [
                {"value": v, "label": _lookup(wording, locale, "choices", str(v)) or words(str(v))}
                for v in spec.get("enum", [])
            ],
        }


def _kind(spec: dict[str, Any]) -> str:
    if spec.get("enum"):
        return "choice"
    kind = spec.get("type")
    if kind in ("number", "integer", "boolean"):
        return str(kind)
    return "date" if spec.get("format") == "date" else "email" if spec.get("format") == "email" else "text"


def problems(wording: Wording, locale: str, schema: dict[str, Any], data: Any) -> dict[str, str]:
    """Field (dotted path, "" for the form as a whole) -> what is wrong with it, in `locale`. Empty when valid."""
    found: dict[str, str] = {}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        for path, rule in _located(error):
            leaf = path.rsplit(".", 1)[-1]
            fmt = str(error.validator_value) if error.validator == "format" else ""
            keys = [f"{rule}.{leaf}", f"{rule}.{fmt}", rule] if fmt else [f"{rule}.{leaf}", rule]
            found.setdefault(path, _lookup(wording, locale, "messages", *keys, "invalid") or "invalid")
    return found


def _located(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, rule) pairs: a missing field is reported at the field, not at the object missing it."""
    base = ".".join(str(p) for p in error.absolute_path)
    at = f"{base}." if base else ""
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        required = cast(list[str], error.validator_value)  # the stubs allow Unset; "required" always carries its names
        return [(f"{at}{name}", "required") for name in required if name not in instance]
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, Mapping) else {}  # an object schema, for this keyword
        allowed = set(schema.get("properties", {}))
        return [(f"{at}{name}", "additionalProperties") for name in instance if name not in allowed]
    rule = "format" if error.validator == "format" else str(error.validator)
    return [(base, rule)]
