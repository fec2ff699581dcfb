"""Agreement of an expert panel: Kendall's W and intraclass correlations (ICC).

Both take a wide DataFrame: rows are the rated objects (indicators, projects), columns the
raters (experts). Rows with a missing score are dropped — the result says how many — because
both statistics need a complete matrix.

Kendall's coefficient of concordance
------------------------------------
Each rater's scores are ranked over the rows (average ranks for ties). With ``m`` raters,
``n`` rows and rank sums ``R_i``:

.. math:: W = \\frac{12 S}{m^2 (n^3 - n) - m \\sum_j T_j}, \\quad S = \\sum_i (R_i - \\bar R)^2,
   \\quad T_j = \\sum (t^3 - t)

over the tie groups of rater ``j``; ``χ² = m (n − 1) W`` with ``n − 1`` degrees of freedom.

ICC (Shrout & Fleiss, 1979)
---------------------------
From the two-way ANOVA mean squares (rows MSR, columns MSC, error MSE, within-rows MSW) with
``k`` raters: ICC1 = (MSR − MSW)/(MSR + (k−1)MSW); ICC2 = (MSR − MSE)/(MSR + (k−1)MSE +
k(MSC − MSE)/n); ICC3 = (MSR − MSE)/(MSR + (k−1)MSE); the ``k`` forms are the reliabilities of
the mean of ``k`` raters. F tests and 95 % intervals follow Shrout & Fleiss (as R ``psych``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import stats


class TooFewRatings(ValueError):
    """Not enough raters or complete rows to compute an agreement statistic.

    ``short_of`` is ``"raters"`` or ``"rows"``; ``needed``/``got``/``dropped`` let the web
    layer say it in the reader's language (the message itself is English, for logs)."""

    def __init__(
        self,
        message: str,
        *,
        short_of: str = "rows",
        needed: int = 0,
        got: int = 0,
        dropped: int = 0,
    ) -> None:
        super().__init__(message)
        self.short_of, self.needed, self.got, self.dropped = short_of, needed, got, dropped


@dataclass(frozen=True)
class KendallW:
    """Kendall's W with its χ² test; ``dropped`` rows had a missing score."""

    w: float
    chi2: float
    dof: int
    pvalue: float
    n: int
    m: int
    dropped: int


def _complete(ratings: pd.DataFrame, min_rows: int) -> tuple[pd.DataFrame, int]:
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError("ratings must be a DataFrame (rows = objects, columns = raters)")
    if ratings.shape[1] < 2:
        raise TooFewRatings(
            f"agreement needs at least 2 raters, got {ratings.shape[1]}",
            short_of="raters",
            needed=2,
            got=ratings.shape[1],
        )
    numeric = ratings.apply(pd.to_numeric, errors="coerce").astype(float)
    complete = numeric.dropna(axis=0, how="any")
    if len(complete) < min_rows:
        raise TooFewRatings(
            f"agreement needs at least {min_rows} rows scored by every rater, got "
            f"{len(complete)} ({len(numeric) - len(complete)} dropped for missing scores)",
            short_of="rows",
            needed=min_rows,
            got=len(complete),
            dropped=len(numeric) - len(complete),
        )
    return complete, len(numeric) - len(complete)


def kendall_w(ratings: pd.DataFrame) -> KendallW:
    """Kendall's coefficient of concordance, corrected for ties.

    Examples
    --------
    Three judges who rank four objects identically agree perfectly:

    >>> r = kendall_w(pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 6, 8], "c": [0, 1, 5, 9]}))
    >>> r.w, r.dof
    (1.0, 3)
    """
    data, dropped = _complete(ratings, 2)
    n, m = data.shape
    ranks = data.rank(axis=0, method="average")
    rank_sums = ranks.sum(axis=1).to_numpy()
    s = float(((rank_sums - rank_sums.mean()) ** 2).sum())
    ties = 0.0
    for col in data.columns:
        counts = data[col].value_counts().to_numpy()
        ties += float((counts**3 - counts).sum())
    denominator = m**2 * (n**3 - n) - m * ties
    w = 12 * s / denominator if denominator > 0 else 0.0
    w = min(1.0, max(0.0, w))
    chi2 = m * (n - 1) * w
    return KendallW(
        w=w,
        chi2=chi2,
        dof=n - 1,
        pvalue=float(stats.chi2.sf(chi2, n - 1)),
        n=n,
        m=m,
        dropped=dropped,
    )


def icc(ratings: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The six Shrout & Fleiss intraclass correlations with F tests and confidence intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed ``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k`` with columns ``icc``, ``f``,
        ``df1``, ``df2``, ``pvalue``, ``ci_low``, ``ci_high``; ``attrs["dropped"]`` counts the
        rows dropped for missing scores.

    Examples
    --------
    Shrout & Fleiss (1979), Table 2 (6 targets, 4 judges):

    >>> sf = pd.DataFrame([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6],
    ...                    [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> icc(sf)["icc"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    data, dropped = _complete(ratings, 2)
    x = data.to_numpy()
    n, k = x.shape
    grand = x.mean()
    ss_total = float(((x - grand) ** 2).sum())
    ss_rows = float(k * ((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = float(n * ((x.mean(axis=0) - grand) ** 2).sum())
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_total - ss_rows) / (n * (k - 1))
    alpha = 1 - confidence

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf") if a > 0 else float("nan")

    icc1 = ratio(msr - msw, msr + (k - 1) * msw)
    icc2 = ratio(msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n)
    icc3 = ratio(msr - mse, msr + (k - 1) * mse)
    icc1k = ratio(msr - msw, msr)
    icc2k = ratio(msr - mse, msr + (msc - mse) / n)
    icc3k = ratio(msr - mse, msr)

    f1, df1_1, df2_1 = ratio(msr, msw), n - 1, n * (k - 1)
    f3, df1_3, df2_3 = ratio(msr, mse), n - 1, (n - 1) * (k - 1)
    p1 = float(stats.f.sf(f1, df1_1, df2_1))
    p3 = float(stats.f.sf(f3, df1_3, df2_3))

    fl1 = f1 / stats.f.ppf(1 - alpha / 2, df1_1, df2_1)
    fu1 = f1 * stats.f.ppf(1 - alpha / 2, df2_1, df1_1)
    fl3 = f3 / stats.f.ppf(1 - alpha / 2, df1_3, df2_3)
    fu3 = f3 * stats.f.ppf(1 - alpha / 2, df2_3, df1_3)
    ci1 = ((fl1 - 1) / (fl1 + k - 1), (fu1 - 1) / (fu1 + k - 1))
    ci1k = (1 - 1 / fl1, 1 - 1 / fu1)
    ci3 = ((fl3 - 1) / (fl3 + k - 1), (fu3 - 1) / (fu3 + k - 1))
    ci3k = (1 - 1 / fl3, 1 - 1 / fu3)
    # ICC2: Satterthwaite-approximated degrees of freedom (Shrout & Fleiss eq. 9)
    fj = ratio(msc, mse)
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd if vd else float("inf")
    f_up = stats.f.ppf(1 - alpha / 2, n - 1, v)
    f_low = stats.f.ppf(1 - alpha / 2, v, n - 1)
    low2 = n * (msr - f_up * mse) / (f_up * (k * msc + (k * n - k - n) * mse) + n * msr)
    high2 = n * (f_low * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_low * msr)
    ci2 = (low2, high2)
    ci2k = (low2 * k / (1 + low2 * (k - 1)), high2 * k / (1 + high2 * (k - 1)))

    rows = [
        ("ICC1", icc1, f1, df1_1, df2_1, p1, ci1),
        ("ICC2", icc2, f3, df1_3, df2_3, p3, ci2),
        ("ICC3", icc3, f3, df1_3, df2_3, p3, ci3),
        ("ICC1k", icc1k, f1, df1_1, df2_1, p1, ci1k),
        ("ICC2k", icc2k, f3, df1_3, df2_3, p3, ci2k),
        ("ICC3k", icc3k, f3, df1_3, df2_3, p3, ci3k),
    ]
    frame = pd.DataFrame(
        [
            {
                "icc": v,
                "f": f,
                "df1": a,
                "df2": b,
                "pvalue": p,
                "ci_low": float(ci[0]),
                "ci_high": float(ci[1]),
            }
            for _name, v, f, a, b, p, ci in rows
        ],
        index=pd.Index([r[0] for r in rows], name="type"),
    )
    frame.attrs["dropped"] = dropped
    frame.attrs["n"], frame.attrs["k"] = n, k
    return frame
