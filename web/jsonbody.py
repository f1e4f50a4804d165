"""JSON request bodies: the one place bytes become a JSON value, or a clear 4xx that stores nothing.

Every JSON POST route reads its body here, so hostile input (nesting thousands deep, bytes that
are not UTF-8, numbers with thousands of digits, the wrong Content-Type, a body over the
route's limit) is refused the same way everywhere: through `abort`, which the site's one error
handler (web/errors.py) answers as `{"error": ..., "message": ...}`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import abort, request

MAX_JSON_BYTES = 16 * 1024  # a ticket, a feedback or a suggestion request is a few hundred bytes
MAX_DEPTH = 32  # the API's objects are flat; deeper nesting is never a real request


def _refuse(message: str) -> NoReturn:
    abort(400, description=message)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in value (iteratively: no recursion limit to hit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _not_json(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON value")


def parse_json(raw: bytes) -> Any:
    """The JSON value in raw; 400 with the reason when it is not UTF-8 JSON or nests too deeply."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse("the body is not valid JSON: it is not UTF-8 text")
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:  # the decoder recurses once per level: thousands of `[` end here
        _refuse(f"the body nests arrays or objects too deeply (more than {MAX_DEPTH} levels)")
    except ValueError as exc:  # also numbers longer than Python converts
        _refuse(f"the body is not valid JSON: {exc}")
    if _depth(value) > MAX_DEPTH:
        _refuse(f"the body nests arrays or objects too deeply (more than {MAX_DEPTH} levels)")
    return value


def read_json_body(max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The request's JSON body: 415 unless Content-Type is application/json, 413 over max_bytes, 400 if not JSON."""
    if request.mimetype != "application/json":
        abort(415, description="send JSON with Content-Type: application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        abort(413, description=f"the body must be at most {max_bytes} bytes")
    raw = request.get_data(cache=True)[:max_bytes + 1]  # cached: a body signature (Zammad's) may have read it
    if len(raw) > max_bytes:
        abort(413, description=f"the body must be at most {max_bytes} bytes")
    return parse_json(raw)


def read_json_object(allowed: frozenset[str] | None = None, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON body as an object (400 otherwise), with only the allowed keys when given."""
    data = read_json_body(max_bytes)
    if not isinstance(data, dict):
        _refuse("the body must be a JSON object")
    if allowed is not None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            _refuse(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return data
