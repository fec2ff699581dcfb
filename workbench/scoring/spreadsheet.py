"""Excel in and out for indicator systems and scores (openpyxl; formulas neutralised)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import yaml
from flask import Response, send_file
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from workbench.core.evaluation import STATUS_ZH, EngagementResult, Node
from workbench.core.indicators import InvalidTemplate, Template, TemplateError, parse_template
from workbench.core.safefiles import SMALL_TABLE, UnsafeFile, check_xlsx, clean_filename, load_yaml
from workbench.xlsx import XLSX_MIME, cell_text, safe_cell

METHOD_NAMES_ZH = {
    "target": "目标值对比",
    "ratio": "比率",
    "qualitative": "定性",
    "deduction": "扣分制",
    "checklist": "要素核查",
    "expert": "专家评分",
    "survey": "满意度调查",
    "manual": "评价组评分",
}
TEMPLATE_COLUMNS = [
    "层级",
    "编码",
    "上级编码",
    "名称",
    "英文名称",
    "分值",
    "标签",
    "指标解释",
    "评价要点",
    "评分标准",
    "数据来源",
    "评分方法",
]
META_SHEET = "模板信息"
META_KEYS = [
    "code",
    "name",
    "name_en",
    "language",
    "source",
    "description",
    "total",
    "min_output_benefit",
]
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _method_text(node: Any) -> str:
    if node.method is None:
        return ""
    data = node.method.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=True
    ).strip()


def template_workbook(template: Template) -> bytes:
    """One row per indicator (parent by code) plus a sheet with the template's own fields."""
    wb = Workbook()
    ws = wb.active
    ws.title = "指标"
    ws.append(TEMPLATE_COLUMNS)
    parent_of: dict[str, str] = {}
    for _depth, node in template.walk():
        for child in node.children:
            parent_of[child.code] = node.code
    for depth, node in template.walk():
        ws.append(
            [
                safe_cell(v)
                for v in (
                    depth,
                    node.code,
                    parent_of.get(node.code, ""),
                    node.name,
                    node.name_en or "",
                    node.weight,
                    node.tag.value if node.tag else "",
                    node.definition,
                    node.key_points,
                    node.criteria,
                    node.data_source,
                    _method_text(node),
                )
            ]
        )
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for i, width in enumerate([6, 10, 10, 24, 20, 8, 10, 40, 40, 40, 20, 36], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    meta = wb.create_sheet(META_SHEET)
    for key in META_KEYS:
        value = getattr(template, key)
        meta.append([key, safe_cell(value if value is not None else "")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def send_template_xlsx(template: Template, filename: str) -> Response:
    return send_file(
        io.BytesIO(template_workbook(template)),
        mimetype=XLSX_MIME,
        as_attachment=True,
        download_name=filename,
    )


def template_from_workbook(data: bytes, name: str) -> Template:
    """Read the layout written by :func:`template_workbook` (header names, not positions)."""
    try:
        check_xlsx(data, SMALL_TABLE)  # before openpyxl: bombs and oversized sheets
    except UnsafeFile as exc:
        raise InvalidTemplate([TemplateError(name, "", str(exc))]) from exc
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on broken files
        error = TemplateError(name, "", f"not a readable .xlsx file: {exc}")
        raise InvalidTemplate([error]) from exc
    errors: list[TemplateError] = []
    sheet = wb[wb.sheetnames[0]]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise InvalidTemplate([TemplateError(name, "", "the first sheet is empty")])
    header = [cell_text(h) for h in rows[0]]
    missing = [c for c in ("编码", "名称", "分值") if c not in header]
    if missing:
        raise InvalidTemplate(
            [TemplateError(name, "row 1", f"missing column {c}") for c in missing]
        )
    col = {h: i for i, h in enumerate(header)}
    meta: dict[str, Any] = {"code": name.rsplit(".", 1)[0][:40] or "uploaded", "name": name}
    if META_SHEET in wb.sheetnames:
        for key, value, *_rest in wb[META_SHEET].iter_rows(values_only=True):
            if key in META_KEYS and value not in (None, ""):
                meta[str(key)] = cell_text(value)
    nodes: dict[str, dict[str, Any]] = {}
    top: list[dict[str, Any]] = []
    rows_path: dict[str, str] = {}  # code → path in the mapping (as validation reports it)
    rows_of: dict[str, int] = {}  # path → spreadsheet row
    for line, row in enumerate(rows[1:], start=2):

        def get(column: str, row: tuple[Any, ...] = row) -> str:
            return cell_text(row[col[column]]) if column in col and col[column] < len(row) else ""

        code = get("编码")
        if not code and not get("名称"):
            continue
        node: dict[str, Any] = {"code": code, "name": get("名称"), "weight": get("分值")}
        for column, key in (
            ("英文名称", "name_en"),
            ("标签", "tag"),
            ("指标解释", "definition"),
            ("评价要点", "key_points"),
            ("评分标准", "criteria"),
            ("数据来源", "data_source"),
        ):
            if get(column):
                node[key] = get(column)
        if get("评分方法"):
            try:
                node["method"] = load_yaml(get("评分方法"))
            except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nesting too deep
                # keep going without the method, so that the other problems are found too
                node["method"] = {"type": "manual"}
                errors.append(TemplateError(name, f"row {line}", f"评分方法 is not YAML: {exc}"))
        if code in nodes:
            errors.append(TemplateError(name, f"row {line}", f"code {code} repeated"))
            continue
        nodes[code] = node
        parent = get("上级编码")
        if parent:
            if parent not in nodes:
                errors.append(
                    TemplateError(name, f"row {line}", f"parent {parent} must come before {code}")
                )
                continue
            siblings = nodes[parent].setdefault("children", [])
            rows_of[f"{rows_path[parent]}.children[{len(siblings)}]"] = line
            rows_path[code] = f"{rows_path[parent]}.children[{len(siblings)}]"
            siblings.append(node)
            nodes[parent].pop("method", None)  # a parent row's method is meaningless
        else:
            rows_path[code] = f"indicators[{len(top)}]"
            rows_of[rows_path[code]] = line
            top.append(node)
    try:
        template = parse_template({**meta, "indicators": top}, file=name)
    except InvalidTemplate as exc:
        errors += [_at_row(e, rows_of) for e in exc.errors]
    if errors:
        raise InvalidTemplate(errors)
    return template


def _at_row(error: TemplateError, rows_of: dict[str, int]) -> TemplateError:
    """Point a validation error at the spreadsheet row of the indicator it concerns."""
    best = max(
        (p for p in rows_of if error.path == p or error.path.startswith(p + ".")),
        key=len,
        default=None,
    )
    if best is None:
        return error
    rest = error.path[len(best) :].lstrip(".")
    return TemplateError(
        error.file, f"row {rows_of[best]}" + (f" {rest}" if rest else ""), error.message
    )


def read_template(data: bytes, name: str) -> Template:
    """A template from uploaded bytes: YAML (.yaml/.yml) or Excel (.xlsx)."""
    name = clean_filename(name, default="template")
    if name.lower().endswith(".xlsx"):
        return template_from_workbook(data, name)
    try:
        parsed = load_yaml(data)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:  # nesting too deep
        raise InvalidTemplate([TemplateError(name, "", f"cannot read YAML: {exc}")]) from exc
    return parse_template(parsed, file=name)


def criteria_of(result: EngagementResult) -> dict[str, str]:
    """评分标准 of every leaf, as the scores page and the 评分表 print it: the leaf's written
    criteria, or its method's rule."""
    template = result.figures.get("template")
    if template is None:
        return {}
    return {leaf.code: leaf.criteria.strip() or rule_zh(leaf) for leaf in template.leaves()}


def score_cell(node: Node) -> Any:
    """得分 of a node as the 评分表 holds it: the official score (a number shown with 2
    decimals), or the leaf's status in words (never full marks for an unassessed leaf)."""
    if node.score is not None:
        return node.score
    if node.is_leaf and node.status is not None:
        return STATUS_ZH[node.status]
    return "—"


def scores_workbook(engagement: Any, result: EngagementResult) -> bytes:
    """The 指标体系评分表: levels in merged cells, then 分值, 得分, 得分率, 评分方法, 评分标准
    (the leaf's criteria, or its method's rule) and 评分依据 (the engine's explanation, the
    evaluator's 评分理由 and the evidence: :attr:`Node.basis_zh`). Every figure is the one
    evaluated result's official one; a leaf without a score prints its status (尚未评价, 不适用,
    录入值与评分方法不符)."""
    template = result.figures["template"]
    criteria = criteria_of(result)
    depth = template.depth()
    numerals = "一二三四五六七八九十"
    level_names = [f"{numerals[i] if i < len(numerals) else i + 1}级指标" for i in range(depth)]
    headers = [*level_names, "分值", "得分", "得分率", "评分方法", "评分标准", "评分依据"]
    wb = Workbook()
    ws = wb.active
    ws.title = "指标体系评分表"
    ws.append([safe_cell(f"{engagement.title} 指标体系评分表")])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(headers)
    for cell in ws[2]:
        cell.font, cell.fill, cell.border = Font(bold=True), HEADER_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    # one row per leaf; ancestors' cells merged vertically over their leaves
    leaf_rows: list[tuple[list[Node], Node]] = []
    path: list[Node] = []
    for node in result.nodes:
        path = [*path[: node.level - 1], node]
        if node.is_leaf:
            leaf_rows.append((path, node))
    first_row = 3
    spans: dict[tuple[int, str], list[int]] = {}
    for offset, (path, leaf) in enumerate(leaf_rows):
        r = first_row + offset
        values: list[Any] = []
        for level in range(depth):
            node = path[level] if level < len(path) else None
            if node is None:
                values.append("")
                continue
            if node.is_leaf:
                values.append(node.name)
            elif not node.applicable:
                values.append(f"{node.name}（不适用）")
            else:
                got = f"，得 {node.printed_score} 分" if node.score is not None else ""
                values.append(f"{node.name}（{node.printed_weight}分{got}）")
            spans.setdefault((level, node.code), []).append(r)
        values += [
            leaf.template_weight,
            score_cell(leaf),
            leaf.rate if leaf.rate is not None else "",
            METHOD_NAMES_ZH.get(leaf.method, leaf.method) if leaf.method else "",
            criteria.get(leaf.code, ""),
            leaf.basis_zh if leaf.applicable else "",
        ]
        ws.append([safe_cell(v) for v in values])
        ws.cell(row=r, column=depth + 1).number_format = "0.00"
        ws.cell(row=r, column=depth + 2).number_format = "0.00"
        ws.cell(row=r, column=depth + 3).number_format = "0.00%"
        for cell in ws[r]:
            cell.border = BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True)
    for (level, _code), rows in spans.items():
        col = level + 1
        if len(rows) > 1:
            ws.merge_cells(start_row=rows[0], start_column=col, end_row=rows[-1], end_column=col)
    # a leaf shallower than the tree depth fills the remaining level columns
    for offset, (path, _leaf) in enumerate(leaf_rows):
        if len(path) < depth:
            ws.merge_cells(
                start_row=first_row + offset,
                start_column=len(path),
                end_row=first_row + offset,
                end_column=depth,
            )
    total_row = first_row + len(leaf_rows)
    # while indicators are unscored there is no total that the printed parts could add up to
    raw = result.raw_total if result.raw_total is not None else "—"
    ws.append(
        [
            safe_cell(v)
            for v in ["合计", *[""] * (depth - 1), result.applicable_weight, raw, "", "", "", ""]
        ]
    )
    ws.cell(row=total_row, column=depth + 1).number_format = "0.00"
    ws.cell(row=total_row, column=depth + 2).number_format = "0.00"
    ws.merge_cells(start_row=total_row, start_column=1, end_row=total_row, end_column=depth)
    if result.total is not None:
        note = result.total_sentence_zh()
    else:
        waiting = len(result.unassessed) + len(result.invalid)
        note = f"尚有 {waiting} 项指标尚未评价，综合得分待定。"
    ws.append([safe_cell(note)])
    ws.merge_cells(
        start_row=total_row + 1, start_column=1, end_row=total_row + 1, end_column=len(headers)
    )
    for cell in ws[total_row]:
        cell.font, cell.border = Font(bold=True), BORDER
    for i, width in enumerate([16] * depth + [8, 8, 9, 12, 40, 60], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.print_title_rows = "2:2"  # header repeated on every printed page
    weighting_sheet(wb, result)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


WEIGHTING_SHEET = "权重确定"
METHODS_ZH = {
    "ahp": "层次分析法",
    "group_ahp": "群组层次分析法",
    "entropy": "熵权法",
    "direct": "直接赋值",
}
RI_ZH = {"saaty": "Saaty 表", "cn": "国内教材表"}


def weighting_sheet(wb: Workbook, result: EngagementResult) -> None:
    """A sheet 权重确定 with how the points of each level were derived, when any were: for AHP
    the judgment matrix, the derived weights, λmax, CR and the RI table; for group AHP first
    each expert's judgments, matrix and CR, then the aggregated matrix (from the notes kept
    with the indicator system, carried by the evaluated result)."""
    notes = result.figures.get("weight_notes") or {}
    derived = {
        k: n for k, n in notes.items() if isinstance(n, dict) and n.get("method") != "direct"
    }
    if not derived:
        return
    template = result.figures["template"]
    ws = wb.create_sheet(WEIGHTING_SHEET)
    ws.append(["权重确定方法与判断矩阵"])
    ws["A1"].font = Font(bold=True, size=14)
    for parent, note in derived.items():
        ws.append([])
        if parent == "_top":
            title = f"{template.name}（一级指标）"
        else:
            try:
                title = f"{parent} {template.find(parent).name} 的下级指标"
            except KeyError:
                continue  # the level was removed since
        method = METHODS_ZH.get(note.get("method"), note.get("method"))
        ws.append([safe_cell(f"{title}：{method}")])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
        _note_rows(ws, template, note)
    ws.column_dimensions["A"].width = 28
    for i in range(2, 18):
        ws.column_dimensions[get_column_letter(i)].width = 10


def _node_name(template: Template, code: str) -> str:
    try:
        return f"{code} {template.find(code).name}"
    except KeyError:
        return code


def _matrix_rows(ws: Any, template: Template, label: str, codes: list[str], matrix: Any) -> None:
    if not matrix or len(matrix) != len(codes):
        return
    ws.append([label, *[safe_cell(_node_name(template, c)) for c in codes]])
    for cell in ws[ws.max_row]:
        cell.font, cell.fill, cell.border = Font(bold=True), HEADER_FILL, BORDER
    for code, row in zip(codes, matrix, strict=True):
        ws.append([safe_cell(_node_name(template, code)), *row])
        for cell in ws[ws.max_row]:
            cell.border = BORDER
            if isinstance(cell.value, float):
                cell.number_format = "0.0000"


def _expert_rows(ws: Any, template: Template, note: dict[str, Any], codes: list[str]) -> None:
    """Group AHP: each expert's judgments as entered, matrix and CR, before the aggregate."""
    lines = note.get("expert_judgments") or []
    crs = note.get("expert_crs") or []
    for k, matrix in enumerate(note.get("expert_matrices") or [], start=1):
        if k <= len(lines):
            ws.append([f"专家 {k} 判断", safe_cell(str(lines[k - 1]))])
        _matrix_rows(ws, template, f"专家 {k} 判断矩阵", codes, matrix)
        if k <= len(crs):
            cr = float(crs[k - 1])
            ws.append(
                [f"专家 {k} 一致性比率 CR", cr, "通过（CR < 0.10）" if cr < 0.10 else "未通过"]
            )
            ws.cell(row=ws.max_row, column=2).number_format = "0.0000"


def _note_rows(ws: Any, template: Template, note: dict[str, Any]) -> None:
    codes = note.get("codes") or list(note.get("weights") or {})
    group = note.get("method") == "group_ahp"
    if group:
        _expert_rows(ws, template, note, codes)
    label = "综合判断矩阵" if group else "判断矩阵"
    _matrix_rows(ws, template, label, codes, note.get("matrix"))
    weights = note.get("weights") or {}
    if weights:
        ws.append(["权重", *[weights.get(c) for c in codes]])
        for cell in ws[ws.max_row][1:]:
            cell.number_format = "0.0000"
    if note.get("experts") is not None:
        ws.append(["专家人数", note["experts"]])
    if note.get("objects") is not None:
        ws.append(["评价对象数", note["objects"]])
    if note.get("lambda_max") is not None:
        ws.append(["λmax", note["lambda_max"]])
    if note.get("cr") is not None:
        cr = float(note["cr"])
        ws.append(["一致性比率 CR", cr, "通过（CR < 0.10）" if cr < 0.10 else "未通过"])
        ws.cell(row=ws.max_row, column=2).number_format = "0.0000"
    if note.get("ri"):
        ws.append(["随机一致性指标 RI", RI_ZH.get(note["ri"], note["ri"])])


def rule_zh(leaf: Any) -> str:
    """The scoring rule of a leaf that has no written 评分标准, from its method."""
    m = leaf.method
    if m is None:
        return ""
    kind = m.type
    if kind == "target":
        return (
            "实际值与目标值对比：达到目标得满分，未达到按完成比例计分"
            "（反向指标超出上限按比例扣分）。"
        )
    if kind == "ratio":
        return (
            f"比率达到 {_percent(m.full_score_at)} 及以上得满分，"
            f"不高于 {_percent(m.zero_score_at)} 不得分，其间按比例计分。"
        )
    if kind == "qualitative":
        return "达成 80%–100%，部分达成 60%–80%，未达成 0–60% 的分值。"
    if kind == "deduction":
        each = f"每项扣 {_points(m.default_points)} 分，" if m.default_points else ""
        return f"按扣分事项扣分，{each}扣完为止；无扣分事项须写明核查依据。"
    if kind == "checklist":
        elements = "；".join(m.elements)
        return f"逐项核查：{elements}；每满足一项得相应分值。"
    if kind == "survey":
        return "按满意度调查结果计分。"
    if kind == "expert":
        return "专家组评分。"
    return "评价组评分，扣分须说明理由。"


def _percent(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


def _points(value: Decimal) -> str:
    return format(value.normalize(), "f")


def send_scores_xlsx(engagement: Any, result: EngagementResult, filename: str) -> Response:
    return send_file(
        io.BytesIO(scores_workbook(engagement, result)),
        mimetype=XLSX_MIME,
        as_attachment=True,
        download_name=filename,
    )
