"""The rule a planner's quantity must follow: whole packs, at least the minimum order, or 0.

One function for every place a quantity is typed: `vmi approve`'s overrides file, the
workbench's inline edit (the server's answer is the authority; the page repeats the rule as
the planner types) and the JSON API.
"""

from __future__ import annotations

import math


def moq_units(pack_size: float, moq: float) -> int:
    """The smallest non-zero order: the minimum order rounded up to whole packs."""
    pack = _pack(pack_size)
    minimum = 0.0 if moq is None or not math.isfinite(float(moq)) else max(float(moq), 0.0)
    return int(math.ceil(minimum / pack - 1e-9) * pack)


def qty_rule(pack_size: float, moq: float) -> str:
    """The rule in words, e.g. ``"0, or a multiple of 6 of at least 12"``."""
    pack, least = _pack(pack_size), moq_units(pack_size, moq)
    if least > pack:
        return f"0, or a multiple of {pack:g} of at least {least:g}"
    return f"0, or a multiple of {pack:g}"


def qty_problem(qty: float, pack_size: float, moq: float) -> str | None:
    """What is wrong with ``qty`` for a line with this pack and MOQ, or None when it is valid."""
    pack = _pack(pack_size)
    try:
        value = float(qty)
    except (TypeError, ValueError):
        return f"qty '{qty}' is not a number"
    if not math.isfinite(value):
        return f"qty '{qty}' is not a number"
    if value < 0:
        return f"negative quantity {value:g} (allowed: {qty_rule(pack_size, moq)})"
    if abs(value / pack - round(value / pack)) > 1e-9:
        return f"qty {value:g} is not a multiple of pack size {pack:g}"
    least = moq_units(pack_size, moq)
    if 0 < value < least:
        return f"qty {value:g} is below the minimum order of {least:g} (allowed: 0 or {least:g}+)"
    return None


def _pack(pack_size: float) -> float:
    try:
        pack = float(pack_size)
    except (TypeError, ValueError):
        return 1.0
    return pack if math.isfinite(pack) and pack > 0 else 1.0
