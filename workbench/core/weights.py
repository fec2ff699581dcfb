"""Indicator weights: AHP (层次分析法), group AHP and the entropy weight method (熵权法).

AHP
---
A pairwise comparison matrix ``A`` on Saaty's 1–9 scale (``a_ij`` = how much more important
``i`` is than ``j``; ``a_ji = 1 / a_ij``) gives weights ``w`` (sum 1) by the principal
eigenvector (``method="eigen"``) or by the row geometric mean (方根法, ``"geometric"``).
Consistency:

.. math:: CI = (\\lambda_{max} - n) / (n - 1), \\qquad CR = CI / RI_n

and the judgments are accepted when ``CR < 0.10``; ``n ≤ 2`` is always consistent. Two random
index tables are offered (``ri="saaty"`` or ``ri="cn"``, the Chinese-textbook table); the one used
is recorded on the result. ``RI`` is indexed by ``n`` itself (RI for n = 3 is 0.58 in Saaty's
table): public code often gets this off by one.

Entropy
-------
For m ≥ 2 evaluated objects (rows) and criteria (columns), values are min–max normalised
(benefit or cost direction), ``p_ij = x_ij / Σ_i x_ij``, ``e_j = −(1/ln m) Σ_i p_ij ln p_ij``
with ``0·ln 0 = 0``, ``d_j = 1 − e_j`` and ``w_j = d_j / Σ d_j``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

#: Random index RI for n = 1..15, Saaty (1980/2008).
RI_SAATY = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59)
#: Random index RI for n = 1..15 from the Chinese textbooks (e.g. 许树柏《层次分析法原理》).
RI_CN = (0.0, 0.0, 0.52, 0.89, 1.12, 1.26, 1.36, 1.41, 1.46, 1.49, 1.52, 1.54, 1.56, 1.58, 1.59)
RI_TABLES = {"saaty": RI_SAATY, "cn": RI_CN}
CR_THRESHOLD = 0.10
RECIPROCAL_TOLERANCE = 0.01  # accepts 0.333 for 1/3 as typed by people


class InvalidMatrix(ValueError):
    """The pairwise comparison matrix is not square, positive and reciprocal."""


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency of one comparison matrix.

    ``most_inconsistent`` is the pair ``(i, j)`` whose judgment departs most from the weights
    (largest ``|ln(a_ij · w_j / w_i)|``), and ``suggested`` the value ``w_i / w_j`` that would
    agree with them: the hint shown to the person filling the matrix.
    """

    weights: pd.Series
    lambda_max: float
    ci: float
    cr: float
    ri: float
    ri_table: str
    method: str
    n: int
    most_inconsistent: tuple[Any, Any] | None
    suggested: float | None

    @property
    def consistent(self) -> bool:
        return self.n <= 2 or self.cr < CR_THRESHOLD


def _as_matrix(matrix: Any) -> tuple[np.ndarray, list[Any]]:
    if isinstance(matrix, pd.DataFrame):
        if list(matrix.index) != list(matrix.columns):
            raise InvalidMatrix("row and column labels of the matrix differ")
        labels = list(matrix.index)
        values = matrix.to_numpy(dtype=float)
    else:
        values = np.asarray(matrix, dtype=float)
        labels = list(range(values.shape[0])) if values.ndim == 2 else []
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] == 0:
        raise InvalidMatrix(f"a comparison matrix must be square, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidMatrix("every judgment must be a positive finite number")
    if not np.allclose(np.diag(values), 1.0):
        raise InvalidMatrix("the diagonal must be 1 (an item is as important as itself)")
    product = values * values.T
    bad = np.argwhere(np.abs(product - 1.0) > RECIPROCAL_TOLERANCE)
    if bad.size:
        i, j = bad[0]
        raise InvalidMatrix(
            f"not reciprocal: a[{i}][{j}] = {values[i, j]:g} but a[{j}][{i}] = {values[j, i]:g}"
            f" (expected {1 / values[i, j]:g})"
        )
    return values, labels


def _eigen_weights(a: np.ndarray) -> tuple[np.ndarray, float]:
    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    vector = np.abs(eigenvectors[:, k].real)
    return vector / vector.sum(), float(eigenvalues[k].real)


def _geometric_weights(a: np.ndarray) -> tuple[np.ndarray, float]:
    g = np.exp(np.log(a).mean(axis=1))
    w = g / g.sum()
    lambda_max = float(np.mean((a @ w) / w))
    return w, lambda_max


def ahp(
    matrix: Any,
    method: Literal["eigen", "geometric"] = "eigen",
    ri: Literal["saaty", "cn"] = "saaty",
) -> AHPResult:
    """Weights and consistency ratio of a pairwise comparison matrix.

    Parameters
    ----------
    matrix
        n × n array-like or a DataFrame with the same labels on rows and columns (the labels
        become the index of ``weights``). Positive, ``a_ii = 1`` and ``a_ji = 1 / a_ij``
        (within 1 %, so that 0.333 is accepted for 1/3).
    method
        ``"eigen"`` (principal eigenvector, Saaty) or ``"geometric"`` (row geometric mean).
    ri
        Random-index table: ``"saaty"`` or ``"cn"``; recorded in ``ri_table``.

    Returns
    -------
    AHPResult
        ``weights`` (a Series summing to 1), ``lambda_max``, ``ci``, ``cr``, ``consistent``.

    Raises
    ------
    InvalidMatrix
        Not square, not positive, diagonal not 1, or not reciprocal.
    ValueError
        Unknown ``method`` or ``ri``, or n > 15 (no random index is published beyond).

    Examples
    --------
    >>> r = ahp([[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]])
    >>> [round(w, 3) for w in r.weights], round(r.cr, 3), r.consistent
    ([0.637, 0.258, 0.105], 0.033, True)
    """
    if ri not in RI_TABLES:
        raise ValueError(f"unknown random-index table {ri!r}; use 'saaty' or 'cn'")
    if method not in ("eigen", "geometric"):
        raise ValueError(f"unknown method {method!r}; use 'eigen' or 'geometric'")
    a, labels = _as_matrix(matrix)
    n = a.shape[0]
    table = RI_TABLES[ri]
    if n > len(table):
        raise ValueError(f"random indices are published for n ≤ {len(table)}, got n = {n}")
    w, lambda_max = _eigen_weights(a) if method == "eigen" else _geometric_weights(a)
    ci = max(0.0, (lambda_max - n) / (n - 1)) if n > 2 else 0.0
    ri_n = table[n - 1]
    cr = ci / ri_n if ri_n > 0 else 0.0
    pair, suggested = None, None
    if n > 2:
        deviation = np.abs(np.log(a * np.outer(1 / w, w)))
        i, j = np.unravel_index(int(np.argmax(np.triu(deviation, 1))), deviation.shape)
        pair, suggested = (labels[i], labels[j]), float(w[i] / w[j])
    return AHPResult(
        weights=pd.Series(w, index=labels, name="weight"),
        lambda_max=lambda_max,
        ci=ci,
        cr=cr,
        ri=ri_n,
        ri_table=ri,
        method=method,
        n=n,
        most_inconsistent=pair,
        suggested=suggested,
    )


def group_ahp(
    matrices: Sequence[Any],
    expert_weights: Sequence[float] | None = None,
    method: Literal["eigen", "geometric"] = "eigen",
    ri: Literal["saaty", "cn"] = "saaty",
) -> AHPResult:
    """Aggregate several experts' matrices (AIJ) and run :func:`ahp` on the result.

    Each cell is the weighted geometric mean of the experts' judgments,
    ``a_ij = Π_k a_ij^(k) ^ λ_k`` with ``Σ λ_k = 1`` (equal weights by default). The geometric
    mean keeps the aggregate reciprocal, which the arithmetic mean would not.

    Examples
    --------
    >>> r = group_ahp([[[1, 2], [1/2, 1]], [[1, 8], [1/8, 1]]])
    >>> round(float(r.weights.iloc[0] / r.weights.iloc[1]), 6)  # sqrt(2 × 8)
    4.0
    """
    if not matrices:
        raise ValueError("group_ahp needs at least one matrix")
    parsed = [_as_matrix(m) for m in matrices]
    shapes = {p[0].shape for p in parsed}
    if len(shapes) != 1:
        raise InvalidMatrix(f"all matrices must have the same size, got {sorted(shapes)}")
    if expert_weights is None:
        lam = np.full(len(parsed), 1 / len(parsed))
    else:
        lam = np.asarray(expert_weights, dtype=float)
        if (
            lam.shape != (len(parsed),)
            or not np.all(np.isfinite(lam))
            or np.any(lam < 0)
            or lam.sum() <= 0
        ):
            raise ValueError("expert_weights must be one non-negative number per matrix")
        lam = lam / lam.sum()
    logs = np.stack([np.log(p[0]) for p in parsed])
    combined = np.exp(np.tensordot(lam, logs, axes=1))
    labels = parsed[0][1]
    frame = pd.DataFrame(combined, index=labels, columns=labels)
    return ahp(frame, method=method, ri=ri)


def entropy_weights(df: pd.DataFrame, directions: Mapping[Any, int] | None = None) -> pd.Series:
    """Entropy weights of the columns of ``df`` (rows = evaluated objects, m ≥ 2).

    Parameters
    ----------
    df
        Numeric data, one row per evaluated object, one column per criterion.
    directions
        Column → ``+1`` (benefit, more is better; default) or ``−1`` (cost).

    Returns
    -------
    pandas.Series
        Weights indexed by column, summing to 1. A constant column carries no information and
        gets weight 0; if every column is constant the weights are equal.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3], "b": [5, 5, 5], "c": [0, 0, 9]})
    >>> w = entropy_weights(df)
    >>> round(float(w.sum()), 10), float(w["b"]), bool(w["c"] > w["a"])
    (1.0, 0.0, True)
    """
    if not isinstance(df, pd.DataFrame) or df.shape[1] == 0:
        raise ValueError("entropy_weights needs a DataFrame with at least one column")
    m = df.shape[0]
    if m < 2:
        raise ValueError("the entropy method needs at least 2 evaluated objects (rows)")
    x = df.apply(pd.to_numeric, errors="raise").astype(float)
    if x.isna().any().any() or not np.all(np.isfinite(x.to_numpy())):
        raise ValueError("entropy_weights needs finite numbers in every cell")
    directions = dict(directions or {})
    unknown = set(directions) - set(df.columns)
    if unknown:
        raise ValueError(f"directions name unknown columns: {sorted(map(str, unknown))}")
    normalised = pd.DataFrame(index=x.index, columns=x.columns, dtype=float)
    for col in x.columns:
        direction = directions.get(col, 1)
        if direction not in (1, -1):
            raise ValueError(f"direction of {col!r} must be +1 or -1")
        lo, hi = x[col].min(), x[col].max()
        if hi == lo:
            normalised[col] = 0.0
        elif direction == 1:
            normalised[col] = (x[col] - lo) / (hi - lo)
        else:
            normalised[col] = (hi - x[col]) / (hi - lo)
    sums = normalised.sum(axis=0)
    d = pd.Series(0.0, index=x.columns)
    for col in x.columns:
        if sums[col] == 0:
            continue  # constant column: no information, weight 0
        p = normalised[col] / sums[col]
        plogp = np.where(p > 0, p * np.log(p.where(p > 0, 1.0)), 0.0)
        e = -plogp.sum() / np.log(m)
        d[col] = 1.0 - e
    if d.sum() <= 0:
        return pd.Series(1.0 / len(d), index=x.columns, name="weight")
    return (d / d.sum()).rename("weight")


#: Saaty's full 1–9 scale as typed on the AHP page, strongest for the left indicator first:
#: 9, 8, …, 2, 1, 1/2, …, 1/9 (2, 4, 6, 8 are the intermediate judgments).
SAATY_JUDGMENTS: tuple[str, ...] = (
    *(str(k) for k in range(9, 1, -1)),
    "1",
    *(f"1/{k}" for k in range(2, 10)),
)


def parse_judgment(text: str) -> float:
    """A judgment as typed ("3", "1/5", "0.2") as a number.

    >>> parse_judgment("1/4")
    0.25
    >>> parse_judgment(" 7 ")
    7.0

    Raises ``ValueError`` for text that is not a positive number or ``1/k``.
    """
    text = text.strip()
    value = 1 / float(text[2:]) if text.startswith("1/") else float(text)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def judgment_text(value: float) -> str:
    """The scale entry closest to ``value`` ("1/3" for 0.3333): how a judgment is printed.

    >>> judgment_text(0.2), judgment_text(4.0)
    ('1/5', '4')
    """
    return min(SAATY_JUDGMENTS, key=lambda t: abs(np.log(parse_judgment(t) / value)))


def judgment_token(value: float) -> str:
    """A judgment as kept with the group AHP lines: the scale entry when ``value`` is one
    (0.333 typed for 1/3 included), else the number itself.

    >>> judgment_token(0.333), judgment_token(5.0), judgment_token(2.5)
    ('1/3', '5', '2.5')
    """
    nearest = judgment_text(value)
    if abs(np.log(parse_judgment(nearest) / value)) < 0.005:
        return nearest
    return f"{value:g}"


def matrix_from_upper(values: Sequence[float], n: int) -> list[list[float]]:
    """The reciprocal n × n matrix whose upper triangle, row by row, is ``values``.

    >>> matrix_from_upper([3.0, 5.0, 2.0], 3)[2]
    [0.2, 0.5, 1.0]
    """
    if len(values) != n * (n - 1) // 2:
        raise InvalidMatrix(f"{len(values)} judgments for {n} indicators")
    matrix = [[1.0] * n for _ in range(n)]
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i][j], matrix[j][i] = values[k], 1 / values[k]
            k += 1
    return matrix


@dataclass(frozen=True)
class DerivedWeights:
    """Weight shares of the children of one indicator and the note kept with the tree.

    ``note`` is what the report and the Excel export print about how the points were set
    (method, RI table, CR, λmax; for AHP the judgments as typed, the matrix and the weights);
    ``constant`` lists entropy columns without information (they would get no points).
    """

    shares: dict[str, float]
    note: dict[str, Any]
    ahp: AHPResult | None = None
    entropy: pd.Series | None = None
    constant: tuple[str, ...] = ()


def weights_by_ahp(
    codes: Sequence[str], upper: Sequence[float], ri: Literal["saaty", "cn"] = "saaty"
) -> DerivedWeights:
    """AHP weights of ``codes`` from the upper triangle of their comparison matrix.

    >>> d = weights_by_ahp(["a", "b"], [3.0])
    >>> d.note["judgments"], d.note["weights"]
    ({'a-b': '3'}, {'a': 0.75, 'b': 0.25})
    """
    codes = list(codes)
    matrix = matrix_from_upper(upper, len(codes))
    # labelled, so that the hint names indicators, not positions
    result = ahp(pd.DataFrame(matrix, index=codes, columns=codes), ri=ri)
    pairs = [f"{a}-{b}" for i, a in enumerate(codes) for b in codes[i + 1 :]]
    shares = {c: float(w) for c, w in zip(codes, result.weights, strict=True)}
    note = {
        "method": "ahp",
        "ri": result.ri_table,
        "cr": round(result.cr, 4),
        "lambda_max": round(result.lambda_max, 4),
        "codes": codes,
        "matrix": [[round(x, 4) for x in row] for row in matrix],
        "judgments": {p: judgment_text(v) for p, v in zip(pairs, upper, strict=True)},
        "weights": {c: round(w, 4) for c, w in shares.items()},
    }
    return DerivedWeights(shares, note, ahp=result)


def weights_by_group_ahp(
    codes: Sequence[str],
    experts: Sequence[Sequence[float]],
    ri: Literal["saaty", "cn"] = "saaty",
) -> DerivedWeights:
    """Group AHP (geometric mean of the experts' matrices) from each expert's upper triangle."""
    codes = list(codes)
    frames = [
        pd.DataFrame(matrix_from_upper(u, len(codes)), index=codes, columns=codes) for u in experts
    ]
    result = group_ahp(frames, ri=ri)
    shares = {c: float(w) for c, w in zip(codes, result.weights, strict=True)}
    note = {
        "method": "group_ahp",
        "experts": len(frames),
        "ri": result.ri_table,
        "cr": round(result.cr, 4),
        "lambda_max": round(result.lambda_max, 4),
        "codes": codes,
        # the aggregate group_ahp ranked: the equal-weight geometric mean of the experts'
        "matrix": [
            [round(float(x), 4) for x in row]
            for row in np.exp(np.mean([np.log(f.to_numpy()) for f in frames], axis=0))
        ],
        "weights": {c: round(w, 4) for c, w in shares.items()},
        # each expert's line as entered (normalised), matrix and CR: shown again, exported
        "expert_judgments": [" ".join(judgment_token(v) for v in u) for u in experts],
        "expert_matrices": [
            [[round(float(x), 4) for x in row] for row in f.to_numpy()] for f in frames
        ],
        "expert_crs": [round(ahp(f, ri=ri).cr, 4) for f in frames],
    }
    return DerivedWeights(shares, note, ahp=result)


def weights_by_entropy(
    codes: Sequence[str], rows: Sequence[Mapping[str, float]], directions: Mapping[str, int]
) -> DerivedWeights:
    """Entropy weights of ``codes`` from one row of values per evaluated object."""
    frame = pd.DataFrame(list(rows))
    weights = entropy_weights(frame, directions)
    shares = {c: float(weights[c]) for c in codes}
    note = {"method": "entropy", "objects": len(frame), "directions": dict(directions)}
    constant = tuple(c for c in codes if shares[c] <= 0)
    return DerivedWeights(shares, note, entropy=weights, constant=constant)


def applied_judgments(note: Mapping[str, Any] | None, codes: Sequence[str]) -> dict[str, str]:
    """The AHP judgments kept in a weighting ``note``, as ``{"a-b": "1/3"}``.

    Notes written before the judgments were kept carry only the matrix (rows in the order of
    ``codes`` then): its upper triangle is read back onto the scale.

    >>> applied_judgments({"method": "ahp", "matrix": [[1, 0.2], [5, 1]]}, ["a", "b"])
    {'a-b': '1/5'}
    """
    if not note or note.get("method") != "ahp":
        return {}
    if note.get("judgments"):
        return {str(k): str(v) for k, v in note["judgments"].items()}
    matrix = note.get("matrix") or []
    if len(matrix) != len(codes):
        return {}
    return {
        f"{a}-{codes[j]}": judgment_text(float(matrix[i][j]))
        for i, a in enumerate(codes)
        for j in range(i + 1, len(codes))
    }


def applied_group_judgments(note: Mapping[str, Any] | None) -> str:
    """The group AHP judgments kept in a weighting ``note``: one expert per line, as the
    group box takes them ("" for another method or a note written before they were kept).

    >>> applied_group_judgments({"method": "group_ahp", "expert_judgments": ["3", "1/2"]})
    '3\\n1/2'
    """
    if not note or note.get("method") != "group_ahp":
        return ""
    return "\n".join(str(line) for line in note.get("expert_judgments") or [])
