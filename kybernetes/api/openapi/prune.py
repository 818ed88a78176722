"""Pruning: drop the unknown fields `check_fields` found, as Go's decoder does under Warn and Ignore."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _tokens(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        out.append(int(index) if index else name)
    return out


def prune_paths(obj: Any, paths: list[str]) -> None:
    """Remove each field at a path like `spec.containers[0].foo`; missing paths are ignored."""
    for path in paths:
        tokens = _tokens(path)
        if not tokens:
            continue
        node = obj
        for token in tokens[:-1]:
            if isinstance(token, int):
                node = node[token] if isinstance(node, list) and 0 <= token < len(node) else None
            else:
                node = node.get(token) if isinstance(node, dict) else None
            if node is None:
                break
        last = tokens[-1]
        if isinstance(node, dict) and isinstance(last, str):
            node.pop(last, None)
