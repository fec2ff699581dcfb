"""Expert-panel aggregation and per-indicator dispersion (评审专家评分汇总).

Scores come as a long DataFrame with the columns in :data:`PANEL_COLUMNS`: one row per
(indicator, expert) with the raw score. Practice in the domain notes (§4.1): the panel's score
for an indicator is the mean, or — with at least 5 scores — the trimmed mean that drops one
highest and one lowest score; the median and a mean weighted by expert weight are offered too.
Dispersion: CV = SD / mean (sample SD) flagged above 0.25; outlying experts by the modified
z-score ``0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin), flagged above 3.5.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

INDICATOR, EXPERT, SCORE = "indicator_code", "expert_id", "raw_score"
PANEL_COLUMNS = (INDICATOR, EXPERT, SCORE)
CV_THRESHOLD = 0.25
MAD_Z_THRESHOLD = 3.5


class Aggregation(enum.StrEnum):
    MEAN = "mean"
    TRIMMED = "trimmed"  # drop one highest and one lowest when n ≥ trim_min_n
    MEDIAN = "median"
    WEIGHTED = "weighted"  # mean weighted by expert weight


@dataclass(frozen=True)
class Aggregate:
    """The panel's score for one indicator and how it was obtained."""

    value: float
    method: Aggregation
    n: int
    trimmed: bool = False


def aggregate(
    scores: Sequence[float],
    method: Aggregation = Aggregation.MEAN,
    trim_min_n: int = 5,
    weights: Sequence[float] | None = None,
) -> Aggregate:
    """Combine one indicator's scores.

    Parameters
    ----------
    scores
        The experts' scores (at least one).
    method
        ``mean``, ``trimmed`` (drop one highest and one lowest score when there are at least
        ``trim_min_n`` scores, otherwise the plain mean), ``median`` or ``weighted``.
    weights
        One non-negative weight per score for ``weighted``.

    Examples
    --------
    >>> aggregate([8, 9, 9, 10, 3], Aggregation.TRIMMED).value  # drops 3 and 10
    8.666666666666666
    >>> aggregate([8, 9, 3], Aggregation.TRIMMED)  # fewer than 5 scores: plain mean
    Aggregate(value=6.666666666666667, method=<Aggregation.TRIMMED: 'trimmed'>, n=3, trimmed=False)
    """
    values = np.asarray(list(scores), dtype=float)
    if values.size == 0:
        raise ValueError("no scores to aggregate")
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite numbers")
    n = int(values.size)
    if method is Aggregation.MEAN:
        return Aggregate(float(values.mean()), method, n)
    if method is Aggregation.MEDIAN:
        return Aggregate(float(np.median(values)), method, n)
    if method is Aggregation.TRIMMED:
        if trim_min_n < 3:
            raise ValueError("trimming needs trim_min_n ≥ 3")
        if n >= trim_min_n:
            kept = np.sort(values)[1:-1]
            return Aggregate(float(kept.mean()), method, n, trimmed=True)
        return Aggregate(float(values.mean()), method, n)
    if method is Aggregation.WEIGHTED:
        w = np.asarray(list(weights or []), dtype=float)
        if w.shape != values.shape or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weighted aggregation needs one non-negative weight per score")
        return Aggregate(float((values * w).sum() / w.sum()), method, n)
    raise ValueError(f"unknown aggregation {method!r}")


def indicator_stats(frame: pd.DataFrame, cv_threshold: float = CV_THRESHOLD) -> pd.DataFrame:
    """Per indicator: n, mean, sd (sample), cv, min, max and ``cv_flag``.

    CV is undefined (NaN, not flagged) when the mean is 0 or there is a single score.

    >>> df = pd.DataFrame({INDICATOR: ["A"] * 3 + ["B"] * 3, EXPERT: [1, 2, 3] * 2,
    ...                    SCORE: [8, 8, 8, 2, 6, 10]})
    >>> indicator_stats(df)[["n", "mean", "cv_flag"]].to_dict("index")
    {'A': {'n': 3, 'mean': 8.0, 'cv_flag': False}, 'B': {'n': 3, 'mean': 6.0, 'cv_flag': True}}
    """
    _check(frame)
    grouped = frame.groupby(INDICATOR, sort=True)[SCORE]
    out = pd.DataFrame(
        {
            "n": grouped.count(),
            "mean": grouped.mean(),
            "sd": grouped.std(ddof=1),
            "min": grouped.min(),
            "max": grouped.max(),
        }
    )
    out["cv"] = np.where(out["mean"] != 0, out["sd"] / out["mean"], np.nan)
    out["cv_flag"] = (out["cv"] > cv_threshold).fillna(False).astype(bool)
    return out[["n", "mean", "sd", "cv", "min", "max", "cv_flag"]]


def outliers(frame: pd.DataFrame, threshold: float = MAD_Z_THRESHOLD) -> pd.DataFrame:
    """Scores far from their panel by the modified z-score, with a reason in zh and en.

    ``z = 0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin). When more than half of the panel
    gave the same score the MAD is 0; the mean absolute deviation stands in for it then
    (``z = (x − median) / (1.253314 · MeanAD)``), so that a half-point difference on a
    near-unanimous panel is not called an outlier.
    """
    _check(frame)
    rows = []
    for code, group in frame.groupby(INDICATOR, sort=True):
        values = group[SCORE].astype(float)
        if len(values) < 3:
            continue
        median = float(values.median())
        deviations = (values - median).abs()
        mad = float(deviations.median())
        mean_ad = float(deviations.mean())
        for expert, x in zip(group[EXPERT], values, strict=True):
            z = _modified_z(x, median, mad, mean_ad)
            if abs(z) <= threshold:
                continue
            direction_zh, direction_en = ("高于", "above") if x > median else ("低于", "below")
            rows.append(
                {
                    INDICATOR: code,
                    EXPERT: expert,
                    SCORE: x,
                    "median": median,
                    "mad": mad,
                    "z": z,
                    "reason_zh": f"评分 {x:g} 明显{direction_zh}专家组中位数 {median:g}"
                    f"（稳健 z 值 {z:.1f}，阈值 {threshold:g}）",
                    "reason_en": f"score {x:g} is far {direction_en} the panel median {median:g} "
                    f"(robust z {z:.1f} > {threshold:g})",
                }
            )
    return pd.DataFrame(
        rows, columns=[INDICATOR, EXPERT, SCORE, "median", "mad", "z", "reason_zh", "reason_en"]
    )


def _modified_z(x: float, median: float, mad: float, mean_ad: float) -> float:
    """The modified z-score, with the MeanAD fallback when the MAD is 0."""
    if mad > 0:
        return 0.6745 * (x - median) / mad
    if mean_ad > 0:
        return (x - median) / (1.253314 * mean_ad)
    return 0.0


def aggregate_panel(
    frame: pd.DataFrame,
    method: Aggregation = Aggregation.MEAN,
    trim_min_n: int = 5,
    expert_weights: Mapping[object, float] | None = None,
) -> pd.Series:
    """The panel score per indicator (index: indicator code)."""
    _check(frame)
    out = {}
    for code, group in frame.groupby(INDICATOR, sort=True):
        weights = None
        if method is Aggregation.WEIGHTED:
            weights = [float((expert_weights or {}).get(e, 1.0)) for e in group[EXPERT]]
        out[code] = aggregate(
            group[SCORE].astype(float).tolist(), method, trim_min_n, weights
        ).value
    return pd.Series(out, name="score", dtype=float)


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicators × experts, the input of :func:`workbench.core.agreement.kendall_w` / ``icc``."""
    _check(frame)
    return frame.pivot_table(index=INDICATOR, columns=EXPERT, values=SCORE, aggfunc="first")


def _check(frame: pd.DataFrame) -> None:
    missing = [c for c in PANEL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"panel frame lacks columns {missing}")
