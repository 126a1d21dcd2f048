"""The whole-unit level computed independently of `replenishment.policy` (scipy quad + brentq).

Positions and demand are whole units: an order of whole packs of ``q`` up to a level ``s``
leaves the position on the ``q`` whole numbers from ``ceil(s)``, and whole-unit demand is served
at position ``k`` with probability ``Phi((k + 1/2 - mean) / sigma)``. Averaged over the fraction
``ceil(s) - s`` that is the mean of that probability over positions spread on ``[s, s + q)``
(docs/replenishment.md, "Whole units and packs").
"""

from __future__ import annotations

from scipy import integrate, optimize, stats


def whole_unit_service(level: float, mean: float, sigma: float, pack: int) -> float:
    """Service over positions spread evenly on [level, level + pack): numerical integration."""
    value, _ = integrate.quad(
        lambda v: stats.norm.cdf(level + v + 0.5, mean, sigma),
        0.0,
        pack,
        epsabs=1e-13,
        epsrel=1e-12,
        limit=500,
    )
    return value / pack


def whole_unit_level(mean: float, sigma: float, pack: int, service: float) -> float:
    """Brent's root of `whole_unit_service` = `service`, independent of the policy's Newton."""
    return optimize.brentq(
        lambda s: whole_unit_service(s, mean, sigma, pack) - service,
        mean - 10 * sigma - pack - 2,
        mean + 10 * sigma,
        xtol=1e-12,
    )
