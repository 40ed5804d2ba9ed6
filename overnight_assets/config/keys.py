"""The schema read as types: which keys hold paths or URLs, and an error's key path as the user wrote it.

The loader works on the raw YAML before validation (relative paths, URL credentials). A key is a
path or a URL because its type says so (`ConfigPath`, `FeedUrl`, ...), so a new key is marked
where it is declared and no list elsewhere can forget it.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

EVERY_ITEM = "*"  # in a key path: each item of a list (or value of a mapping)


class KeyKind:
    """A marker in a type's `Annotated[...]` metadata: what the loader does with the raw value."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"KeyKind({self.name!r})"


PATH = KeyKind("path")  # relative paths are read from the config file's folder
URL = KeyKind("url")  # a URL's user:password stays in this process; the config holds it redacted


def marked_keys(model: type[BaseModel], kind: KeyKind) -> tuple[tuple[str, ...], ...]:
    """The key path of every value in `model` whose type carries `kind`."""
    return tuple(dict.fromkeys(_marked(model, (), kind, ())))


def _marked(annotation: Any, key_path: tuple, kind: KeyKind, metadata: tuple) -> Iterator[tuple]:
    if any(item is kind for item in metadata):
        yield key_path
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *more = get_args(annotation)
        yield from _marked(inner, key_path, kind, tuple(more))
    elif _is_model(annotation):
        for name, field in annotation.model_fields.items():
            yield from _marked(field.annotation, (*key_path, name), kind, tuple(field.metadata))
    elif origin in (list, dict):
        yield from _marked(get_args(annotation)[-1], (*key_path, EVERY_ITEM), kind, ())
    elif _is_union(annotation):
        for choice in get_args(annotation):
            yield from _marked(choice, key_path, kind, ())


def user_key_path(model: type[BaseModel], loc: tuple) -> tuple:
    """A pydantic error's loc as the user wrote it. Right after the key of a union of two or more
    types, pydantic names the branch it tried ("DockerCollector", "function-after[...]"): that label
    is dropped by where it stands, never by how it is spelled, so a user's key "Colour" stays."""
    kept, here = [], [model]
    for part in loc:
        if unions := [choices for annotation in here if len(choices := _choices(annotation)) > 1]:
            here = [choice for choices in unions for choice in choices]
            continue
        kept.append(part)
        here = [child for annotation in here for choice in _choices(annotation) if (child := _child(choice, part))]
    return tuple(kept)


def _choices(annotation: Any) -> list:
    """The types a value may take: one unless it is a union (None aside, as pydantic sets it aside)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if not _is_union(annotation):
        return [annotation]
    return [choice for arg in get_args(annotation) if arg is not type(None) for choice in _choices(arg)]


def _child(annotation: Any, part: Any) -> Any:
    """The type found under `part` (a key or an index) in a value of type `annotation`, or None."""
    if _is_model(annotation):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin = get_origin(annotation)
    if (origin is list and isinstance(part, int)) or origin is dict:
        return get_args(annotation)[-1]
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)
