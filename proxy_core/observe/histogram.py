"""Quantiles of a bucketed histogram (Prometheus' shape: upper bounds, then +Inf)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(bounds: Sequence[float], counts: Sequence[int], quantile: float) -> float | None:
    """The ``quantile`` (0..1) of a bucketed histogram, interpolated inside its bucket.

    ``bounds`` are the upper bounds; ``counts`` has one more entry for +Inf. Values in
    the +Inf bucket are reported as the last finite bound (the most we can say).
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile {quantile} is outside 0..1")
    if len(counts) != len(bounds) + 1:
        raise ValueError("counts must have one entry more than bounds (+Inf)")
    total = sum(counts)
    if total == 0:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(bounds):
                return float(bounds[-1])
            lower = 0.0 if index == 0 else float(bounds[index - 1])
            upper = float(bounds[index])
            share = (rank - seen) / count
            return lower + (upper - lower) * max(share, 0.0)
        seen += count
    return float(bounds[-1])  # pragma: no cover - the loop always returns when total > 0
