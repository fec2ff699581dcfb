"""Satisfaction-survey statistics and the 问卷星 (Wenjuanxing) export reader.

Statistics (``shared/domain`` §4.2):

* satisfaction rate = (非常满意 + 满意) ÷ valid answers, "不了解/说不清" excluded from the
  denominator, with a Wilson score interval;
* weighted satisfaction index on 0–100 (level scores 100/80/60/40/20 by default) with a
  t interval;
* required sample ``n₀ = z² p (1 − p) / e²``, finite-population corrected
  ``n = n₀ / (1 + (n₀ − 1) / N)`` — 385 for e = 5 %, 95 %, p = 0.5;
* Cronbach's α with Feldt's confidence interval, listwise deletion (stated).
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from workbench.core.messages import N_
from workbench.core.safefiles import SURVEY_TABLE, UnsafeFile, check_table

DEFAULT_LEVEL_SCORES: dict[str, float] = {
    "非常满意": 100,
    "满意": 80,
    "一般": 60,
    "不满意": 40,
    "非常不满意": 20,
}
SATISFIED_LEVELS = ("非常满意", "满意")
DONT_KNOW = ("不了解", "说不清", "不清楚", "不知道", "不了解/说不清")


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson interval."""

    rate: float
    ci_low: float
    ci_high: float
    satisfied: int
    valid: int
    #: respondents behind a pooled rate (None for a single question)
    respondents: int | None = None


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def satisfaction_rate(satisfied: int, valid: int, confidence: float = 0.95) -> Rate:
    """Share satisfied with a Wilson score interval.

    .. math:: \\frac{\\hat p + z^2/2n \\pm z \\sqrt{\\hat p (1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Examples
    --------
    >>> r = satisfaction_rate(87, 100)
    >>> round(r.rate, 2), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.87, 0.7902, 0.9224)
    """
    if valid <= 0:
        raise ValueError("a satisfaction rate needs at least one valid answer")
    if not 0 <= satisfied <= valid:
        raise ValueError("satisfied answers must lie between 0 and the valid answers")
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = satisfied / valid
    low, high = _wilson(p, valid, z)
    # exact bounds at the ends (floating point would give 1 − 1e-16)
    low = 0.0 if satisfied == 0 else min(p, low)
    high = 1.0 if satisfied == valid else max(p, high)
    return Rate(rate=p, ci_low=low, ci_high=high, satisfied=satisfied, valid=valid)


def ratio_se(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float]:
    """``R = Σy / Σx`` over respondents and its linearised standard error
    ``√(Σ (y_i − R x_i)² / (n (n − 1) x̄²))`` — answers of one respondent are not independent.

    >>> r, se = ratio_se([2, 1, 0, 2], [2, 2, 1, 2])
    >>> round(r, 4), round(se, 4)
    (0.7143, 0.1914)
    """
    y = np.asarray(numerators, dtype=float)
    x = np.asarray(denominators, dtype=float)
    if y.shape != x.shape:
        raise ValueError("numerators and denominators must have the same length")
    keep = x > 0
    ys, xs = y[keep].tolist(), x[keep].tolist()
    n = len(xs)
    if n == 0:
        raise ValueError("a ratio needs at least one respondent with an answer")
    # Python's left-to-right sums (not numpy's pairwise ones): the same bits as always
    total_x = sum(xs)
    r = sum(ys) / total_x
    if n < 2:
        return r, float("nan")
    mean_x = total_x / n
    residual = sum((b - r * a) ** 2 for b, a in zip(ys, xs, strict=True))
    return r, math.sqrt(residual / (n * (n - 1) * mean_x * mean_x))


def pooled_rate(per_respondent: Sequence[tuple[int, int]], confidence: float = 0.95) -> Rate:
    """The satisfaction rate over several items: Σ satisfied ÷ Σ valid answers, with a Wilson
    interval on the *effective* sample size ``R(1 − R) / se²`` (Kish), kept between the
    number of respondents and the number of answers. Treating every answer as independent
    would make the interval far too narrow when each respondent answers several items.

    >>> r = pooled_rate([(5, 5)] * 40 + [(0, 5)] * 10)   # 40 of 50 people satisfied throughout
    >>> round(r.rate, 2), r.respondents, round(r.ci_low, 3), round(r.ci_high, 3)
    (0.8, 50, 0.67, 0.888)
    """
    pairs = list(per_respondent)
    return pooled_rate_counts(
        np.fromiter((s for s, _ in pairs), dtype=np.int64, count=len(pairs)),
        np.fromiter((v for _, v in pairs), dtype=np.int64, count=len(pairs)),
        confidence,
    )


def pooled_rate_counts(satisfied: np.ndarray, valid: np.ndarray, confidence: float = 0.95) -> Rate:
    """:func:`pooled_rate` from two integer arrays (satisfied and valid answers per
    respondent) instead of pairs: the same numbers, without a Python tuple per respondent.

    >>> r = pooled_rate_counts(np.array([5] * 40 + [0] * 10), np.array([5] * 50))
    >>> round(r.rate, 2), r.respondents, round(r.ci_low, 3), round(r.ci_high, 3)
    (0.8, 50, 0.67, 0.888)
    """
    satisfied_arr = np.asarray(satisfied, dtype=np.int64)
    valid_arr = np.asarray(valid, dtype=np.int64)
    keep = valid_arr > 0
    s_used, v_used = satisfied_arr[keep], valid_arr[keep]
    n = int(s_used.size)
    if n == 0:
        raise ValueError("a satisfaction rate needs at least one valid answer")
    happy = int(s_used.sum())
    answers = int(v_used.sum())
    rate, se = ratio_se(s_used, v_used)
    if 0 < rate < 1 and se > 0 and math.isfinite(se):
        n_eff = min(float(answers), max(float(n), rate * (1 - rate) / (se * se)))
    else:
        n_eff = float(n)  # no spread between respondents: fall back to one per person
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    low, high = _wilson(rate, n_eff, z)
    low = 0.0 if happy == 0 else min(rate, low)
    high = 1.0 if happy == answers else max(rate, high)
    return Rate(rate, low, high, happy, answers, respondents=n)


def sample_size(
    margin: float = 0.05, confidence: float = 0.95, p: float = 0.5, population: int | None = None
) -> int:
    """Valid responses needed for a proportion within ±``margin``.

    >>> sample_size(), sample_size(population=1000), sample_size(margin=0.03)
    (385, 278, 1068)
    """
    if not 0 < margin < 1 or not 0 < confidence < 1 or not 0 < p < 1:
        raise ValueError("margin, confidence and p must lie strictly between 0 and 1")
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    n0 = z * z * p * (1 - p) / (margin * margin)
    if population is not None:
        if population < 1:
            raise ValueError("the population must be at least 1")
        n0 = n0 / (1 + (n0 - 1) / population)
    return math.ceil(n0 - 1e-9)


@dataclass(frozen=True)
class Alpha:
    """Cronbach's α, its interval, and how many rows were used / dropped."""

    alpha: float
    ci: tuple[float, float]
    n: int
    k: int
    dropped: int


def cronbach_alpha(items: pd.DataFrame, confidence: float = 0.95) -> Alpha:
    """Cronbach's α of the item columns (rows = respondents), listwise deletion.

    .. math:: \\alpha = \\frac{k}{k-1}\\left(1 - \\frac{\\sum_i s_i^2}{s_T^2}\\right)

    with Feldt's interval ``1 − (1 − α) F``.

    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5], "q2": [2, 2, 3, 5, 5], "q3": [1, 3, 3, 4, 4]})
    >>> round(cronbach_alpha(df).alpha, 4)
    0.9538
    """
    if not isinstance(items, pd.DataFrame) or items.shape[1] < 2:
        raise ValueError("Cronbach's alpha needs at least 2 item columns")
    data = items.apply(pd.to_numeric, errors="coerce").dropna(axis=0, how="any")
    n, k = data.shape
    if n < 2:
        raise ValueError("Cronbach's alpha needs at least 2 complete rows")
    item_var = data.var(axis=0, ddof=1).sum()
    total_var = data.sum(axis=1).var(ddof=1)
    if total_var == 0:
        raise ValueError("every respondent gave the same total: alpha is undefined")
    alpha = k / (k - 1) * (1 - item_var / total_var)
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * stats.f.isf((1 - confidence) / 2, df1, df2)
    high = 1 - (1 - alpha) * stats.f.isf((1 + confidence) / 2, df1, df2)
    return Alpha(alpha=float(alpha), ci=(float(low), float(high)), n=n, k=k, dropped=len(items) - n)


@dataclass(frozen=True)
class LikertSummary:
    """One Likert question: counts per level, rate, index and the excluded answers."""

    counts: dict[str, int]
    valid: int
    dont_know: int
    missing: int
    rate: Rate | None
    index: float | None
    index_ci: tuple[float, float] | None


def _answer_text(raw: object) -> str:
    return "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip()


def _distinct(answers: Sequence[object]) -> tuple[list[str], np.ndarray]:
    """The distinct answers as compared (stripped text, "" for blanks) and, per answer, the
    position of its distinct value: each distinct answer is read once."""
    array = np.fromiter(answers, dtype=object, count=len(answers))
    try:
        codes, uniques = pd.factorize(array, use_na_sentinel=False)
        plain = all(type(u) is str or u is None for u in uniques)
    except TypeError:  # unhashable answers
        plain = False
    if not plain:  # other types (1 == 1.0 == True would share a code): compare the texts
        array = np.array([_answer_text(a) for a in array], dtype=object)
        codes, uniques = pd.factorize(array, use_na_sentinel=False)
    return [_answer_text(u) for u in uniques], codes


def likert_summary(
    answers: Sequence[object],
    level_scores: Mapping[str, float] | None = None,
    satisfied: Sequence[str] = SATISFIED_LEVELS,
    dont_know: Sequence[str] = DONT_KNOW,
    confidence: float = 0.95,
) -> LikertSummary:
    """Summarise one question answered with level labels (e.g. 非常满意 … 非常不满意).

    "不了解/说不清" answers and blanks are left out of the denominator; answers outside the
    scale count as missing.

    >>> s = likert_summary(["非常满意", "满意", "一般", "不了解", "", "满意"])
    >>> s.valid, s.dont_know, round(s.rate.rate, 2), s.index
    (4, 1, 0.75, 80.0)
    """
    scores = dict(level_scores or DEFAULT_LEVEL_SCORES)
    counts = dict.fromkeys(scores, 0)
    dk = missing = 0
    # each distinct answer is read once (100,000 answers are a handful of distinct labels);
    # the scores keep the answers' order, so the mean and the deviation are bit for bit
    # those of the plain list
    texts, codes = _distinct(answers)
    per_distinct = np.full(len(texts), np.nan)
    for j, (text, times) in enumerate(
        zip(texts, np.bincount(codes, minlength=len(texts)).tolist(), strict=True)
    ):
        if text in scores:
            counts[text] += times
            per_distinct[j] = float(scores[text])
        elif text in dont_know:
            dk += times
        else:
            missing += times
    in_order = per_distinct[codes]
    values = in_order[~np.isnan(in_order)]
    valid = len(values)
    if valid == 0:
        return LikertSummary(counts, 0, dk, missing, None, None, None)
    happy = sum(counts.get(level, 0) for level in satisfied)
    index = float(np.mean(values))
    ci = None
    if valid > 1:
        sem = float(np.std(values, ddof=1)) / math.sqrt(valid)
        t = float(stats.t.ppf(1 - (1 - confidence) / 2, valid - 1))
        ci = (index - t * sem, index + t * sem)
    return LikertSummary(
        counts, valid, dk, missing, satisfaction_rate(happy, valid, confidence), index, ci
    )


# --- the measure a survey gives its linked indicator ------------------------------------------


class MeasureKind(enum.StrEnum):
    """Which number of a survey an indicator leaf is scored on."""

    RATE = "rate"  # 满意率 of all respondents
    GROUP_RATE = "group_rate"  # 满意率 of one respondent group
    INDEX = "index"  # 满意度指数 ÷ 100
    GROUP_INDEX = "group_index"  # one group's 满意度指数 ÷ 100
    STRATIFIED = "stratified"  # 分层加权满意率 (groups weighted by population)


#: the measures a link may name (``Survey.leaf_measure``)
LINK_MEASURES = ("rate", "index", "stratified")


@dataclass(frozen=True)
class SurveyLink:
    """How a survey feeds its indicator leaf: the measure, and the respondent group whose
    answers alone count (None: everyone). A group has no meaning for the stratified rate,
    which weights all groups: it is ignored there."""

    measure: str = "rate"
    group: str | None = None


@dataclass(frozen=True)
class SurveyMeasure:
    """The one number a survey gives its leaf, and what the report prints about it.

    ``rate`` is the 0–1 value scored (the index divided by 100); ``ci_low``/``ci_high`` its
    95 % interval, computed over respondents (a respondent's answers are not independent), on
    the same 0–1 scale; ``satisfied``/``valid`` the answer counts behind a satisfaction rate
    (None for the index and the stratified rate), so that several surveys feeding one leaf
    can be pooled."""

    kind: MeasureKind
    label: str
    rate: Decimal | None
    respondents: int
    ci_low: float | None = None
    ci_high: float | None = None
    satisfied: int | None = None
    valid: int | None = None
    group: str | None = None

    @property
    def pools_answers(self) -> bool:
        """True for a satisfaction rate (pooled over surveys as Σ satisfied ÷ Σ valid)."""
        return self.kind in (MeasureKind.RATE, MeasureKind.GROUP_RATE)


def survey_measure(
    overall: LikertSummary | None,
    groups: Mapping[str, LikertSummary],
    link: SurveyLink,
    stratified: StratifiedRate | None = None,
) -> SurveyMeasure:
    """The measure ``link`` names, from a survey's screened results: ``overall`` (all items
    pooled over the used respondents, as :func:`pooled_rate_counts` gives it), ``groups`` (the
    same per respondent group) and the post-stratified rate when populations are set.

    The rate is Σ satisfied ÷ Σ valid answers; its interval and ``respondents`` count people.

    >>> everyone = likert_summary(["满意"] * 8 + ["一般"] * 2)
    >>> town = likert_summary(["满意"] * 3 + ["一般"] * 2)
    >>> m = survey_measure(everyone, {"城区": town}, SurveyLink("rate", "城区"))
    >>> m.kind.value, m.label, m.rate, m.satisfied, m.valid
    ('group_rate', '“城区”受访者满意率', Decimal('0.6'), 3, 5)
    >>> m = survey_measure(everyone, {"城区": town}, SurveyLink("index"))
    >>> m.label, m.rate
    ('满意度指数（百分制，÷100计分）', Decimal('0.76'))
    """
    if link.measure not in LINK_MEASURES:
        raise ValueError(f"unknown survey measure: {link.measure}")
    if link.measure == "stratified":
        used = [groups[g] for g in (stratified.weights if stratified else {}) if g in groups]
        return SurveyMeasure(
            kind=MeasureKind.STRATIFIED,
            label="分层加权满意率（各受访群体按总体规模加权）",
            rate=Decimal(str(stratified.rate)) if stratified else None,
            respondents=sum(_respondents(g) for g in used),
            ci_low=stratified.ci_low if stratified else None,
            ci_high=stratified.ci_high if stratified else None,
        )
    group = link.group
    summary = overall if group is None else groups.get(group)
    who = "" if group is None else f"“{group}”受访者"
    if link.measure == "index":
        index = summary.index if summary is not None else None
        ci = summary.index_ci if summary is not None else None
        return SurveyMeasure(
            kind=MeasureKind.INDEX if group is None else MeasureKind.GROUP_INDEX,
            label=f"{who}满意度指数（百分制，÷100计分）",
            rate=None if index is None else Decimal(str(index)) / 100,
            respondents=_respondents(summary),
            ci_low=None if ci is None else ci[0] / 100,
            ci_high=None if ci is None else ci[1] / 100,
            group=group,
        )
    rate = summary.rate if summary is not None else None
    return SurveyMeasure(
        kind=MeasureKind.RATE if group is None else MeasureKind.GROUP_RATE,
        label=f"{who}满意率" if group is not None else "满意率（全部受访者）",
        rate=Decimal(rate.satisfied) / Decimal(rate.valid) if rate and rate.valid else None,
        respondents=_respondents(summary),
        ci_low=rate.ci_low if rate else None,
        ci_high=rate.ci_high if rate else None,
        satisfied=rate.satisfied if rate else None,
        valid=rate.valid if rate else None,
        group=group,
    )


def _respondents(summary: LikertSummary | None) -> int:
    """People behind a summary: the pooled rate's respondents, else its valid answers."""
    if summary is None or summary.rate is None:
        return 0
    rate = summary.rate
    return rate.respondents if rate.respondents is not None else rate.valid


# --- 问卷星 exports ---------------------------------------------------------------------------

#: Canonical metadata columns of a 问卷星 export (found by name, in any order).
WJX_META = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP")
_CODE_HEADER = re.compile(r"^(?:第\s*\d+\s*题|\d+)\s*[(（]")
#: a sub-column of a multiple-choice or matrix question in the option-number export:
#: "第6题(运动)", "5(选项A)", "6(子问题1)" (the option text may hold brackets itself)
_SUB_COLUMN = re.compile(r"^\s*(?:第\s*(\d+)\s*题|(\d+))\s*[(（](.*)[)）]\s*$")
_QUESTION_HEADER = re.compile(r"^\s*(\d+)\s*[、.．]")
_DURATION = re.compile(r"(?:(\d+)\s*小?时)?\s*(?:(\d+)\s*分钟?)?\s*(?:(\d+)\s*秒)?")
MISSING_CODES = ("-2", "-3")


class WjxFormatError(ValueError):
    """The file is not a readable 问卷星 export; the message (an ``N_`` template the web layer
    translates, or a safety check's text) says why."""


@dataclass
class WjxData:
    """One 问卷星 export: metadata (canonical names), answers, and the flavour."""

    meta: pd.DataFrame
    answers: pd.DataFrame
    flavour: str  # "text" (按选项文本) or "code" (按选项序号)
    notes: list[str] = field(default_factory=list)


def duration_seconds(text: object) -> float:
    """``"136秒"``, ``"2分5秒"``, ``"1时2分3秒"`` or ``"136"`` → seconds (NaN when blank)."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        return float("nan")
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    match = _DURATION.fullmatch(raw)
    if not match or not any(match.groups()):
        return float("nan")
    h, m, s = (int(g) if g else 0 for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def _read_any(source: str | Path | bytes, name: str, nrows: int | None = None) -> pd.DataFrame:
    data = Path(source).read_bytes() if not isinstance(source, bytes) else source
    if not data:
        raise WjxFormatError(N_("the file is empty"))
    lower = name.lower()
    try:
        check_table(data, SURVEY_TABLE)  # before any parser: bombs and oversized sheets
    except UnsafeFile as exc:
        raise WjxFormatError(str(exc)) from exc
    try:
        if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            fast = _excel_text_cells(data) if nrows is None else None
            if fast is not None:
                return fast
            return pd.read_excel(
                io.BytesIO(data), engine="calamine", dtype=str, keep_default_na=False, nrows=nrows
            )
        if lower.endswith((".xls", ".xlsx")):
            raise WjxFormatError(N_("the file is not a valid Excel workbook"))
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise WjxFormatError(N_("the CSV file is neither UTF-8 nor GBK/GB18030"))
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, nrows=nrows)
    except WjxFormatError:
        raise
    except Exception as exc:  # parser errors on truncated or hostile files
        # the parser's own text ("Cannot detect file format" …) is English and says no more
        raise WjxFormatError(
            N_("the file could not be read: it is damaged or not a table of this type")
        ) from exc


def _excel_text_cells(data: bytes) -> pd.DataFrame | None:
    """The first sheet as text cells, read with calamine directly: the same frame as
    ``pd.read_excel(engine="calamine", dtype=str, keep_default_na=False)`` without pandas'
    per-cell conversion and parser (a third of the read time for 100,000 rows), or None when
    the sheet has anything unusual (a blank or repeated header, times, durations, non-finite
    numbers) for pandas to handle as always."""
    from python_calamine import CalamineWorkbook

    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(data))
        .get_sheet_by_index(0)
        .to_python(skip_empty_area=False)
    )
    if not rows:
        return None
    header = rows[0]
    if not all(type(h) is str and h for h in header) or len(set(header)) != len(header):
        return None
    if any(len(row) != len(header) for row in rows):
        return None
    body = np.empty((len(rows) - 1, len(header)), dtype=object)
    body[:] = rows[1:] if len(rows) > 1 else body
    frame: dict[str, pd.api.extensions.ExtensionArray] = {}
    for j, name in enumerate(header):
        cells = body[:, j]
        if pd.api.types.infer_dtype(cells, skipna=False) not in ("string", "empty"):
            texts = [c if type(c) is str else _cell_text(c) for c in cells]
            if None in texts:
                return None
            cells = np.array(texts, dtype=object)
        frame[name] = pd.array(cells, dtype="str")
    return pd.DataFrame(frame, index=pd.RangeIndex(len(body)))


def _cell_text(value: object) -> str | None:
    """A non-text Excel cell as pandas writes it with ``dtype=str`` (None: not handled)."""
    if type(value) is float:
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    if type(value) in (int, bool):
        return str(value)
    if type(value) is dt.datetime:
        return str(value)
    if type(value) is dt.date:
        return str(dt.datetime(value.year, value.month, value.day))
    return None


def read_wjx(
    source: str | Path | bytes, name: str | None = None, nrows: int | None = None
) -> WjxData:
    """Read a 问卷星 export (.xls, .xlsx or .csv, either flavour).

    Metadata columns are found by name; 所用时间 becomes seconds and 提交答卷时间 a datetime.
    In the option-number flavour the codes −2 and −3 (skipped / not shown) become missing.

    Raises
    ------
    WjxFormatError
        Empty, unreadable or not a 问卷星 export (no 序号 column or no question columns).
    """
    name = name or str(source if not isinstance(source, bytes) else "upload")
    frame = _read_any(source, name, nrows)
    frame.columns = [str(c).strip() for c in frame.columns]
    if "序号" not in frame.columns:
        raise WjxFormatError(N_("no 序号 column: this does not look like a 问卷星 export"))
    meta_cols = [c for c in WJX_META if c in frame.columns]
    questions = [c for c in frame.columns if c not in WJX_META]
    if not questions:
        raise WjxFormatError(N_("no question columns were found"))
    notes = [f"metadata column {c} is missing" for c in WJX_META if c not in frame.columns]
    meta = pd.DataFrame(index=frame.index)
    for col in WJX_META:
        meta[col] = frame[col] if col in meta_cols else ""
    # each distinct duration text is parsed once (100,000 rows hold a few hundred)
    codes, uniques = pd.factorize(meta["所用时间"], use_na_sentinel=True)
    seconds = np.array([*(duration_seconds(u) for u in uniques), math.nan], dtype=float)
    meta["所用时间"] = seconds[codes]
    meta["提交答卷时间"] = pd.to_datetime(
        meta["提交答卷时间"].replace("", None), format="%Y/%m/%d %H:%M:%S", errors="coerce"
    )
    answers = frame[questions].copy()
    is_code = any(_CODE_HEADER.match(c) for c in questions) or _all_numeric(answers)
    if is_code:
        answers = answers.replace(list(MISSING_CODES), "")
    return WjxData(meta=meta, answers=answers, flavour="code" if is_code else "text", notes=notes)


def _all_numeric(answers: pd.DataFrame) -> bool:
    sample = answers.head(200)
    values = [v for col in sample.columns for v in sample[col].tolist() if str(v).strip()]
    return bool(values) and all(re.fullmatch(r"-?\d+(\.\d+)?", str(v).strip()) for v in values)


def question_number(header: str) -> int | None:
    """``"13、您对…"`` → 13; ``"第6题(运动)"`` → 6; ``"5(选项A)"`` → 5; otherwise None."""
    sub = sub_column(header)
    if sub is not None:
        return sub[0]
    match = _QUESTION_HEADER.match(header) or re.match(r"^第\s*(\d+)\s*题", header)
    return int(match.group(1)) if match else None


def sub_column(header: str) -> tuple[int, str] | None:
    """A multiple-choice or matrix sub-column as ``(question number, option text)``.

    >>> sub_column("第8题(ACG文化(动漫、游戏等))"), sub_column("6(子问题1)"), sub_column("3、性别")
    ((8, 'ACG文化(动漫、游戏等)'), (6, '子问题1'), None)
    """
    match = _SUB_COLUMN.match(header)
    if not match:
        return None
    return int(match.group(1) or match.group(2)), match.group(3).strip()


@dataclass(frozen=True)
class ColumnGroup:
    """The columns of one question as a 问卷星 export lays them out: the question's own
    column and/or its sub-columns (one per option of a multiple choice, one per item of a
    matrix), each with the option text the header carries (``""`` for the question's own)."""

    number: int | None
    title: str
    columns: tuple[tuple[str, str], ...]


def group_columns(headers: Sequence[str]) -> list[ColumnGroup]:
    """Group the question columns of an export under their question, in file order.

    A header with a question number (``"6、兴趣爱好"``, ``"第6题(运动)"``, ``"6(子问题1)"``)
    joins the group of that number; any other header is a group of its own.

    >>> [(g.number, g.title, len(g.columns)) for g in group_columns(
    ...     ["序号", "5、满意度", "第6题(运动)", "第6题(阅读)", "7(子问题1)", "7(子问题2)"])]
    [(None, '序号', 1), (5, '5、满意度', 1), (6, '第6题', 2), (7, '第7题', 2)]
    """
    groups: dict[object, tuple[int | None, str, list[tuple[str, str]]]] = {}
    for header in headers:
        sub = sub_column(header)
        number = sub[0] if sub else question_number(header)
        key: object = number if number is not None else ("header", header)
        if key not in groups:
            title = f"第{number}题" if sub else header
            groups[key] = (number, title, [])
        elif not sub:  # the question's own column names the group
            groups[key] = (number, header, groups[key][2])
        groups[key][2].append((header, sub[1] if sub else ""))
    return [ColumnGroup(n, t, tuple(cols)) for n, t, cols in groups.values()]


@dataclass(frozen=True)
class StratifiedRate:
    """A satisfaction rate weighted by group population, with a normal 95 % interval."""

    rate: float
    ci_low: float
    ci_high: float
    weights: dict[str, float]
    missing_groups: tuple[str, ...]


def post_stratified_rate(
    groups: Mapping[str, tuple[int, int]],
    populations: Mapping[str, int],
    confidence: float = 0.95,
) -> StratifiedRate:
    """Σ W_g p_g with W_g = N_g / Σ N over the groups that have valid answers.

    ``groups`` maps a group to ``(satisfied, valid)``; the variance is
    Σ W_g² p_g (1 − p_g) / n_g (with the finite-population correction (1 − n_g/N_g)).
    Groups with a population but no valid answers are listed in ``missing_groups`` and left
    out (their weight is spread over the others): the page says so.

    >>> r = post_stratified_rate({"A": (90, 100), "B": (10, 100)}, {"A": 900, "B": 100})
    >>> round(r.rate, 2), r.weights
    (0.82, {'A': 0.9, 'B': 0.1})
    """
    for g, (s, v) in groups.items():
        if not 0 <= s <= v:
            raise ValueError(f"group {g}: satisfied answers must lie between 0 and the valid ones")
    usable = {
        g: (s, v)
        for g, (s, v) in groups.items()
        if v > 0 and populations.get(g, 0) and populations[g] > 0
    }
    if not usable:
        raise ValueError("post-stratification needs at least one group with a population")
    total = sum(populations[g] for g in usable)
    weights = {g: populations[g] / total for g in usable}
    rate = min(1.0, max(0.0, sum(weights[g] * s / v for g, (s, v) in usable.items())))
    variance = 0.0
    for g, (s, v) in usable.items():
        p = s / v
        fpc = max(0.0, 1 - v / populations[g]) if populations[g] >= v else 0.0
        variance += weights[g] ** 2 * p * (1 - p) / v * fpc
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    half = z * math.sqrt(variance)
    missing = tuple(g for g in populations if g not in usable and populations[g] > 0)
    return StratifiedRate(
        rate=rate,
        ci_low=min(rate, max(0.0, rate - half)),
        ci_high=max(rate, min(1.0, rate + half)),
        weights=weights,
        missing_groups=missing,
    )


def read_table(
    source: str | Path | bytes, name: str | None = None, nrows: int | None = None
) -> pd.DataFrame:
    """Read any .xls/.xlsx/.csv (UTF-8 with or without BOM, GBK/GB18030) as text cells,
    for the generic import. Raises :class:`WjxFormatError` when it cannot be read."""
    name = name or str(source if not isinstance(source, bytes) else "upload")
    frame = _read_any(source, name, nrows)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0:
        raise WjxFormatError(N_("the file has no columns"))
    headers = list(frame.columns)
    # pandas renames a repeated header "x" to "x.1": a repeated header is ambiguous
    mangled = [h for h in headers if re.fullmatch(r".+\.\d+", h) and h.rsplit(".", 1)[0] in headers]
    if mangled or len(set(headers)) != len(headers):
        raise WjxFormatError(N_("two columns have the same header"))
    return frame
