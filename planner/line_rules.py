"""The rule a planner's quantity must follow: whole packs, at least the minimum order, or 0.

One function for every place a quantity is typed: `vmi approve`'s overrides file, the
workbench's inline edit (the server's answer is the authority; the page repeats the rule as
the planner types) and the JSON API.

A quantity is also bounded (`qty_limit`: 100 x the line's order-up-to, at least 1,000,000), so
a slip such as ``1e300`` or an extra row of zeros is refused instead of approved. Typed text
must be a plain decimal number in ASCII digits (`parse_qty`): no sign, exponent, digit
separators (``1_2``, ``1,2``) or other scripts' digits, which ``float()`` would quietly accept.
"""

from __future__ import annotations

import math
import re

# The largest quantity a line may take: MAX_QTY_FACTOR x its order-up-to, never below
# MAX_QTY_FLOOR (lines with a small or unknown order-up-to).
MAX_QTY_FACTOR = 100.0
MAX_QTY_FLOOR = 1_000_000.0

# "12", "12.5": ASCII digits only (re.ASCII: \d alone would match any script's digits).
PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?", re.ASCII)


def moq_units(pack_size: float, moq: float) -> int:
    """The smallest non-zero order: the minimum order rounded up to whole packs."""
    pack = _pack(pack_size)
    minimum = 0.0 if moq is None or not math.isfinite(float(moq)) else max(float(moq), 0.0)
    return int(math.ceil(minimum / pack - 1e-9) * pack)


def qty_limit(order_up_to: float | None = None) -> float:
    """The largest quantity a line may take: 100 x ``order_up_to``, at least 1,000,000."""
    try:
        level = float(order_up_to) if order_up_to is not None else math.nan
    except (TypeError, ValueError):
        level = math.nan
    if not math.isfinite(level):
        return MAX_QTY_FLOOR
    return max(MAX_QTY_FACTOR * level, MAX_QTY_FLOOR)


def qty_rule(pack_size: float, moq: float) -> str:
    """The rule in words, e.g. ``"0, or a multiple of 6 of at least 12"``."""
    pack, least = _pack(pack_size), moq_units(pack_size, moq)
    if least > pack:
        return f"0, or a multiple of {pack:g} of at least {least:g}"
    return f"0, or a multiple of {pack:g}"


def shown(text: object, width: int = 40) -> str:
    """``text`` in quotes for a one-line message: cut to ``width``, controls escaped.

    ``shown("lots") == "'lots'"``; ``shown("a\\nb") == "'a\\\\nb'"``: a newline or a
    carriage return in a cell never breaks the message's one line.
    """
    text = str(text)
    cut = text[:width] + ("..." if len(text) > width else "")
    safe = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)
    return f"'{safe}'"


def parse_qty(text: str) -> float | str:
    """A typed quantity as a number, or the problem with it (a str) when it is not plain.

    Accepted: ASCII digits with an optional decimal part (``12``, ``12.0``, ``0.5``),
    surrounding spaces ignored. Refused: a sign, an exponent (``1e3``), digit separators
    (``1_2``, ``1,200``), other scripts' digits (``١٢``), ``inf``/``nan``, anything else.
    """
    stripped = text.strip()
    if PLAIN_NUMBER.fullmatch(stripped):
        return float(stripped)
    if NEGATIVE_NUMBER.fullmatch(stripped):
        return f"negative quantity {stripped}"
    return (
        f"qty {shown(text)} is not a number (digits 0-9 and an optional decimal point; "
        f"no sign, exponent or separators)"
    )


def qty_problem(
    qty: float | str,
    pack_size: float,
    moq: float,
    *,
    order_up_to: float | None = None,
) -> str | None:
    """What is wrong with ``qty`` for a line with this pack and MOQ, or None when it is valid.

    ``qty`` is a number (the JSON API) or the text a planner typed (the overrides file: read
    with `parse_qty`). ``order_up_to`` sets the upper bound (`qty_limit`); without it the
    bound is 1,000,000.
    """
    pack = _pack(pack_size)
    if isinstance(qty, str):
        parsed = parse_qty(qty)
        if isinstance(parsed, str):
            if parsed.startswith("negative"):
                return f"{parsed} (allowed: {qty_rule(pack_size, moq)})"
            return parsed
        value = parsed
    elif isinstance(qty, bool):
        return f"qty {shown(qty)} is not a number"
    else:
        try:
            value = float(qty)
        except (TypeError, ValueError, OverflowError):
            return f"qty {shown(qty)} is not a number"
    if not math.isfinite(value):
        return f"qty {shown(qty)} is not a number"
    if value < 0:
        return f"negative quantity {value:g} (allowed: {qty_rule(pack_size, moq)})"
    limit = qty_limit(order_up_to)
    if value > limit:
        return (
            f"qty {value:g} is above the maximum of {limit:,.0f} for this line "
            f"({MAX_QTY_FACTOR:g} x its order-up-to, at least {MAX_QTY_FLOOR:,.0f})"
        )
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
