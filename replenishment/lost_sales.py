"""Lost sales before an order arrives: the part of the order-up-to level an order need not cover.

A dealer that runs out loses the sale; the customer does not wait. An order placed at a review
arrives after the lead time ``L``; until then only the stock on the shelf and on its way,
``A = on_hand + in_transit - backorders``, can serve demand (orders approved but not shipped
arrive with the new one, not before). So the new order's cycle starts with
``(A - D_L)^+ + on_order + Q`` units, not ``IP - D_L + Q``: lead-time demand beyond ``A`` is lost,
not owed. The order that meets the target cycle service is the smallest ``Q`` with

    P(D_R <= (A - D_L)^+ + on_order + Q) >= target,  i.e.  P(D_R + min(D_L, A) <= IP + Q) >= target,

``IP = A + on_order`` the inventory position, ``D_L`` and ``D_R`` the (independent) demands
over the lead time and over the review period. The backorder rule orders up to the target
quantile of ``D_L + D_R``; since ``min(D_L, A) <= D_L``, the lost-sales level is never
higher. Where ``A`` is well above lead-time demand the two agree; near a stock-out the backorder
rule over-orders, and over many reviews that lifts cycle service above target (about 1.6 points
at 0.90 in the closed loop with the true demand: docs/replenishment.md, "Lost sales").

`lost_sales_credit` returns the difference of the two levels (normal demand), which
`replenishment.policy.compute_suggestions` leaves out of the order.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

# Gauss-Legendre nodes for the integral over lead-time demand below the available stock.
_NODES = 48
# Lead-time demand below its mean by more than this many sds is ignored (probability 1e-19).
_TAIL_SDS = 9.0
# Below this chance of lead-time demand exceeding the available stock the credit is zero.
_NEGLIGIBLE = 1e-9
# At most this many safeguarded Newton steps (bisection when a step leaves the bracket).
_STEPS = 60


def lost_sales_credit(
    lead_mean: np.ndarray,
    lead_sd: np.ndarray,
    review_mean: np.ndarray,
    review_sd: np.ndarray,
    available: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """Units by which the lost-sales order-up-to level lies below the backorder one.

    With ``D_L ~ N(lead_mean, lead_sd)`` and ``D_R ~ N(review_mean, review_sd)`` independent,
    the backorder level is ``y_B = mean + z sd`` of ``D_L + D_R`` and the lost-sales level
    ``y_S`` solves ``P(D_R + min(D_L, A+) <= y_S) = target``, ``A+ = max(available, 0)``, the
    stock that can serve lead-time demand (none when backorders exceed it). The probability is

        integral_{x < A+} phi_L(x) Phi((y - x - mu_R) / s_R) dx
            + P(D_L > A+) Phi((y - A+ - mu_R) / s_R),

    by Gauss-Legendre quadrature, and ``y_S`` by Newton steps kept inside the bracket
    ``[mu_R + z s_R + min(A+, mu_L - 9 s_L), y_B]``. With ``s_L = 0`` the credit is
    ``(mu_L - A+)^+``; with ``s_R = 0`` it is ``(mu_L + z s_L - A+)^+``.

    Returns ``y_B - y_S >= 0`` per row (0 where ``P(D_L > A+) < 1e-9``).
    """
    mu_l, s_l, mu_r, s_r, target = (
        np.asarray(a, dtype=float) for a in (lead_mean, lead_sd, review_mean, review_sd, target)
    )
    cap = np.clip(np.asarray(available, dtype=float), 0.0, None)
    z = stats.norm.ppf(target)
    credit = np.zeros(mu_l.shape)

    no_spread_l = s_l <= 0
    credit[no_spread_l] = np.clip(mu_l - cap, 0.0, None)[no_spread_l]
    no_spread_r = ~no_spread_l & (s_r <= 0)
    credit[no_spread_r] = np.clip(mu_l + z * s_l - cap, 0.0, None)[no_spread_r]

    both = ~no_spread_l & ~no_spread_r
    safe_l = np.where(both, s_l, 1.0)
    at_risk = both & (special.ndtr((mu_l - cap) / safe_l) >= _NEGLIGIBLE)
    rows = np.flatnonzero(at_risk)
    if rows.size:
        credit[rows] = _quadrature_credit(
            mu_l[rows], s_l[rows], mu_r[rows], s_r[rows], cap[rows], z[rows], target[rows]
        )
    return np.clip(credit, 0.0, None)


def _quadrature_credit(
    mu_l: np.ndarray,
    s_l: np.ndarray,
    mu_r: np.ndarray,
    s_r: np.ndarray,
    cap: np.ndarray,
    z: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    s_total = np.sqrt(s_l**2 + s_r**2)
    backorder_level = mu_l + mu_r + z * s_total

    # Nodes t in [-9, a] (standard units of D_L), a = (A+ - mu_L) / s_L, for every row.
    upper = (cap - mu_l) / s_l
    lower = np.minimum(-_TAIL_SDS, upper)
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    half = (upper - lower) / 2
    t = lower[:, None] + half[:, None] * (nodes[None, :] + 1.0)
    x = mu_l[:, None] + s_l[:, None] * t
    w = half[:, None] * weights[None, :] * phi(t)
    beyond = special.ndtr(-upper)

    def service(level: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lost-sales service at `level` for `rows`, and its slope (the density there)."""
        u = (level[:, None] - x[rows] - mu_r[rows, None]) / s_r[rows, None]
        v = (level - cap[rows] - mu_r[rows]) / s_r[rows]
        value = (w[rows] * special.ndtr(u)).sum(axis=1) + beyond[rows] * special.ndtr(v)
        slope = (w[rows] * phi(u)).sum(axis=1) + beyond[rows] * phi(v)
        return value, slope / s_r[rows]

    # Safeguarded Newton from the backorder level (where the service is at least the target),
    # bisecting whenever a step leaves the shrinking bracket.
    low = mu_r + z * s_r + np.minimum(cap, mu_l - _TAIL_SDS * s_l)
    high = backorder_level.copy()
    level = backorder_level.copy()
    todo = np.arange(len(level))
    for _ in range(_STEPS):
        value, slope = service(level[todo], todo)
        enough = value >= target[todo]
        high[todo] = np.where(enough, level[todo], high[todo])
        low[todo] = np.where(enough, low[todo], level[todo])
        done = (np.abs(value - target[todo]) <= 1e-11) | (high[todo] - low[todo] <= 1e-9)
        todo, value, slope = todo[~done], value[~done], slope[~done]
        if not todo.size:
            break
        step = level[todo] - (value - target[todo]) / np.maximum(slope, 1e-300)
        inside = (step > low[todo]) & (step < high[todo])
        level[todo] = np.where(inside, step, (low[todo] + high[todo]) / 2)
    return backorder_level - level


def phi(t: np.ndarray) -> np.ndarray:
    """Standard normal density (0 far in the tails, where ``t * t`` overflows to inf)."""
    with np.errstate(over="ignore"):
        return np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
