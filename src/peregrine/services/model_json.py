"""Reading JSON out of a model's answer, which may wrap it in prose or code fences."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str, *, opening: str) -> Any | None:
    """The first JSON value starting with ``opening`` ('{' or '[') in ``text``, or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find(opening)
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate[start:])
                return value
            except ValueError:
                start = candidate.find(opening, start + 1)
    return None
