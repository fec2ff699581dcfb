"""Indicator-system and score services. They flush and audit; the caller commits."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import diff, record
from workbench.config import PROJECT_ROOT
from workbench.core.budget import BudgetTable, Denominator, RateKind
from workbench.core.indicators import (
    InvalidTemplate,
    Template,
    load_template,
    parse_template,
)
from workbench.core.numbers import apportion
from workbench.core.scoring import (
    LeafInput,
    score_leaf,
)
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.engagements.services import budget_of
from workbench.scoring import frames
from workbench.scoring.models import CustomTemplate, IndicatorInput, IndicatorSystem

TEMPLATE_DIR = PROJECT_ROOT / "scoring_templates"
NODE_TEXT_FIELDS = ("name", "name_en", "definition", "key_points", "criteria", "data_source")


class ScoringError(ValueError):
    """A user-facing problem; ``str(exc)`` is the message (already specific)."""


@functools.cache
def _bundled(directory: str) -> tuple[tuple[str, Template], ...]:
    found = []
    for path in sorted(Path(directory).glob("*.yaml")):
        template = load_template(path)
        found.append((template.code, template))
    return tuple(found)


def bundled_templates() -> dict[str, Template]:
    """The validated templates shipped in ``scoring_templates/`` by code."""
    return dict(_bundled(str(TEMPLATE_DIR)))


def custom_templates(session: Session) -> dict[str, Template]:
    """The firm's own active templates by code."""
    rows = session.scalars(
        sa.select(CustomTemplate)
        .where(CustomTemplate.is_active.is_(True))
        .order_by(CustomTemplate.name)
    )
    return {row.code: parse_template(row.tree, file=row.code) for row in rows}


def all_templates(session: Session) -> dict[str, Template]:
    """Bundled templates first, then the firm's own."""
    return {**bundled_templates(), **custom_templates(session)}


def add_custom_template(session: Session, actor: User, template: Template) -> CustomTemplate:
    """Store an uploaded template in the firm's library (codes are unique, bundled ones
    included; a retired template's code can be reused by replacing it)."""
    if template.code in bundled_templates():
        raise ScoringError("code_is_bundled")
    row = session.scalar(sa.select(CustomTemplate).where(CustomTemplate.code == template.code))
    if row is not None and row.is_active:
        raise ScoringError("code_taken")
    if row is None:
        row = CustomTemplate(code=template.code)
        session.add(row)
    row.name, row.tree, row.is_active = template.name, template_to_json(template), True
    row.uploaded_by_id = actor.id
    session.flush()
    record(
        session,
        actor,
        "template.upload",
        "custom_template",
        row.id,
        summary=f"{template.code} {template.name}",
    )
    return row


def retire_custom_template(session: Session, actor: User, row: CustomTemplate) -> None:
    """Hide a template from the library (engagements keep their own copies)."""
    row.is_active = False
    session.flush()
    record(
        session,
        actor,
        "template.retire",
        "custom_template",
        row.id,
        summary=f"{row.code} {row.name}",
    )


def system_of(session: Session, engagement: Engagement) -> IndicatorSystem | None:
    return session.scalar(
        sa.select(IndicatorSystem).where(IndicatorSystem.engagement_id == engagement.id)
    )


def template_of(system: IndicatorSystem) -> Template:
    return parse_template(system.tree, file="engagement")


def declared_denominators(session: Session, engagement: Engagement) -> dict[RateKind, Denominator]:
    """The budget-rate denominators the engagement's indicator system declares (none without
    a system, or when its tree no longer validates)."""
    system = system_of(session, engagement)
    if system is None:
        return {}
    try:
        return template_of(system).declared_denominators()
    except InvalidTemplate:
        return {}


def budget_for(
    session: Session, engagement: Engagement, template: Template | None = None
) -> BudgetTable:
    """The funds table as the engagement scores and reports it: the indicator system's
    declared denominators win over the engagement's settings."""
    declared = (
        template.declared_denominators()
        if template is not None
        else declared_denominators(session, engagement)
    )
    return budget_of(engagement, declared)


def stored_inputs(session: Session, engagement: Engagement) -> list[IndicatorInput]:
    """The indicator inputs the team recorded for the engagement."""
    return list(
        session.scalars(
            sa.select(IndicatorInput).where(IndicatorInput.engagement_id == engagement.id)
        )
    )


def stored_input(session: Session, engagement: Engagement, code: str) -> IndicatorInput | None:
    """The inputs the team recorded for one leaf, if any."""
    return session.scalar(
        sa.select(IndicatorInput).where(
            IndicatorInput.engagement_id == engagement.id, IndicatorInput.code == code
        )
    )


def instantiate(
    session: Session,
    actor: User,
    engagement: Engagement,
    template: Template,
    *,
    replace: bool = False,
) -> IndicatorSystem:
    """Give the engagement its own copy of ``template``.

    Refuses to replace an existing system that already has recorded scores unless
    ``replace`` is set (then the old inputs are deleted, and the audit log keeps them).
    """
    system = system_of(session, engagement)
    inputs = stored_inputs(session, engagement)
    if system is not None and inputs and not replace:
        raise ScoringError("scores_exist")
    before = system.source_code if system else None
    if system is None:
        system = IndicatorSystem(
            engagement_id=engagement.id,
            source_code=template.code,
            tree=template_to_json(template),
            weight_notes={},
        )
        session.add(system)
    else:
        system.source_code = template.code
        system.tree = template_to_json(template)
        system.weight_notes = {}
        for row in inputs:
            session.delete(row)
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "indicators.instantiate",
        "indicator_system",
        system.id,
        engagement_id=engagement.id,
        changes={
            "template": {"before": before, "after": template.code},
            "inputs_removed": {"before": len(inputs) if replace else 0, "after": 0},
        },
        summary=template.name,
    )
    return system


def template_to_json(template: Template) -> dict[str, Any]:
    """A JSON-storable mapping (Decimals as strings, so nothing is lost)."""
    return template.model_dump(mode="json", exclude_defaults=True)


def _find_node(tree: dict[str, Any], code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The node with ``code`` and the list that holds it."""

    def search(nodes: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        for node in nodes:
            if node["code"] == code:
                return node, nodes
            found = search(node.get("children", []))
            if found:
                return found
        return None

    found = search(tree["indicators"])
    if found is None:
        raise KeyError(code)
    return found


def _save_tree(
    session: Session,
    actor: User,
    system: IndicatorSystem,
    tree: dict[str, Any],
    action: str,
    changes: dict[str, Any],
    summary: str,
) -> Template:
    try:
        template = parse_template(tree, file="engagement")
    except InvalidTemplate as exc:
        raise ScoringError(
            "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in exc.errors)
        ) from exc
    before = _weights_by_code(system.tree)
    after = _weights_by_code(template_to_json(template))
    for code in after:  # rescaled descendants are changes too
        if code in before and before[code] != after[code]:
            changes.setdefault(f"{code}.weight", {"before": before[code], "after": after[code]})
    system.tree = template_to_json(template)
    session.flush()
    if not changes:
        return template  # nothing changed: no audit entry
    revision.bump(session, system.engagement_id)
    scoring_started = bool(stored_inputs(session, system.engagement))
    record(
        session,
        actor,
        action,
        "indicator_system",
        system.id,
        engagement_id=system.engagement_id,
        changes=changes,
        summary=("评分开始后修改 / changed after scoring started: " if scoring_started else "")
        + summary,
    )
    return template


def _weights_by_code(tree: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            out[node["code"]] = format(Decimal(str(node["weight"])).normalize(), "f")
            walk(node.get("children") or [])

    walk(tree["indicators"])
    return out


def update_node(
    session: Session,
    actor: User,
    system: IndicatorSystem,
    code: str,
    values: Mapping[str, Any],
    method: dict[str, Any] | None = None,
) -> Template:
    """Edit a node's texts and (for a leaf) its scoring method."""
    tree = copy.deepcopy(system.tree)
    node, _siblings = _find_node(tree, code)
    before = {k: node.get(k, "") for k in NODE_TEXT_FIELDS}
    for key in NODE_TEXT_FIELDS:
        if key in values:
            node[key] = values[key] or ""
    if not node.get("name_en"):
        node.pop("name_en", None)
    changes = diff(before, {k: node.get(k, "") for k in NODE_TEXT_FIELDS})
    if method is not None and not node.get("children"):
        if method != node.get("method"):
            changes["method"] = {"before": node.get("method"), "after": method}
        node["method"] = method
    return _save_tree(
        session, actor, system, tree, "indicators.update", changes, f"{code} {node['name']}"
    )


def _set_weight(node: dict[str, Any], new: Decimal) -> None:
    """Give ``node`` a new weight and rescale its subtree in proportion, apportioned to
    2 decimals at every level so that all sums still hold exactly."""
    old = Decimal(str(node["weight"]))
    node["weight"] = format(new, "f")
    children = node.get("children") or []
    if not children or old == new:
        return
    exact = [Decimal(str(c["weight"])) * new / old for c in children]
    for child, value in zip(children, apportion(exact, new), strict=True):
        _set_weight(child, value)


def set_child_weights(
    session: Session,
    actor: User,
    system: IndicatorSystem,
    parent: str | None,
    weights: Mapping[str, Decimal],
    note: dict[str, Any] | None = None,
) -> Template:
    """Set the weights (分值) of the children of ``parent`` (None: the top level).

    They must add up to the parent's weight (or the template total): weights derived from AHP
    or entropy are apportioned to 2 decimals first, see :func:`scale_to_points`.
    """
    tree = copy.deepcopy(system.tree)
    nodes = tree["indicators"] if parent is None else _find_node(tree, parent)[0]["children"]
    changes = {}
    for node in nodes:
        if node["code"] in weights:
            new = weights[node["code"]]
            if Decimal(str(node["weight"])) != new:
                changes[f"{node['code']}.weight"] = {
                    "before": node["weight"],
                    "after": format(new, "f"),
                }
            _set_weight(node, new)
    if note is not None:
        notes = dict(system.weight_notes or {})
        before = notes.get(parent or "_top")
        if before != note:  # e.g. new AHP judgments giving the same points: still a change
            changes[f"{parent or '_top'}.weighting"] = {"before": before, "after": note}
        notes[parent or "_top"] = note
        system.weight_notes = notes
    return _save_tree(
        session,
        actor,
        system,
        tree,
        "indicators.weights",
        changes,
        f"{parent or 'top level'}: {note.get('method', 'direct') if note else 'direct'}",
    )


def scale_to_points(shares: Mapping[str, float], points: Decimal) -> dict[str, Decimal]:
    """Turn weight shares (summing to 1) into points with 2 decimals summing exactly to
    ``points``."""
    codes = list(shares)
    exact = [Decimal(str(shares[c])) * points for c in codes]
    exponent = points.as_tuple().exponent
    places = Decimal(1).scaleb(min(-2, exponent if isinstance(exponent, int) else -2))
    return dict(zip(codes, apportion(exact, points, places), strict=True))


def add_leaf(
    session: Session,
    actor: User,
    system: IndicatorSystem,
    parent: str | None,
    code: str,
    name: str,
    weight: Decimal,
    take_from: str,
) -> Template:
    """Add a leaf under ``parent``, taking its weight from the sibling ``take_from`` so that
    the sums still hold."""
    tree = copy.deepcopy(system.tree)
    if parent is None:
        nodes = tree["indicators"]
    else:
        holder = _find_node(tree, parent)[0]
        if "children" not in holder or not holder["children"]:
            raise ScoringError("parent_is_leaf")
        nodes = holder["children"]
    donor = next((n for n in nodes if n["code"] == take_from), None)
    if donor is None:
        raise ScoringError("donor_not_sibling")
    if Decimal(str(donor["weight"])) <= weight:
        raise ScoringError("donor_too_small")
    _set_weight(donor, Decimal(str(donor["weight"])) - weight)
    nodes.append(
        {
            "code": code,
            "name": name,
            "weight": format(weight, "f"),
            "criteria": "",
            "method": {"type": "manual"},
        }
    )
    return _save_tree(
        session,
        actor,
        system,
        tree,
        "indicators.add",
        {
            code: {"before": None, "after": f"{name} ({weight})"},
            f"{take_from}.weight": {
                "before": str(Decimal(donor["weight"]) + weight),
                "after": donor["weight"],
            },
        },
        f"{code} {name}",
    )


def remove_node(
    session: Session, actor: User, system: IndicatorSystem, code: str, give_to: str
) -> Template:
    """Remove a node; its weight goes to the sibling ``give_to``. Its recorded inputs go too
    (kept in the audit log)."""
    tree = copy.deepcopy(system.tree)
    node, siblings = _find_node(tree, code)
    receiver = next((n for n in siblings if n["code"] == give_to and n is not node), None)
    if receiver is None:
        raise ScoringError("receiver_not_sibling")
    receiver_before = receiver["weight"]
    _set_weight(receiver, Decimal(str(receiver["weight"])) + Decimal(str(node["weight"])))
    siblings.remove(node)
    removed_codes = {code} | set(_descendant_codes(node))
    for row in stored_inputs(session, system.engagement):
        if row.code in removed_codes:
            session.delete(row)
    return _save_tree(
        session,
        actor,
        system,
        tree,
        "indicators.remove",
        {
            code: {"before": f"{node['name']} ({node['weight']})", "after": None},
            f"{give_to}.weight": {"before": receiver_before, "after": receiver["weight"]},
        },
        f"{code} {node['name']}",
    )


def _descendant_codes(node: dict[str, Any]) -> list[str]:
    out = []
    for child in node.get("children", []):
        out.append(child["code"])
        out.extend(_descendant_codes(child))
    return out


# --- scores -----------------------------------------------------------------------------------


def save_input(
    session: Session,
    actor: User,
    engagement: Engagement,
    code: str,
    data: LeafInput,
    *,
    not_applicable: bool = False,
    expected_version: int | None = None,
) -> IndicatorInput:
    """Record a leaf's inputs after checking them with its method (audited, before/after).

    Raises :class:`~workbench.core.scoring.InvalidInput` (the method rejects the values),
    :class:`ScoringError` ``("stale")`` when someone saved this leaf in the meantime
    (``expected_version`` 0: the form was opened before the leaf had any inputs).
    """
    system = system_of(session, engagement)
    if system is None:
        raise ScoringError("no_system")
    leaf = template_of(system).find(code)
    if not leaf.is_leaf:
        raise ScoringError("not_a_leaf")
    if not not_applicable:
        score_leaf(leaf, data)  # raises InvalidInput on values the method refuses
    row = session.scalar(
        sa.select(IndicatorInput).where(
            IndicatorInput.engagement_id == engagement.id, IndicatorInput.code == code
        )
    )
    # a form opened before the leaf had inputs carries version 0: a first entry made since wins
    if expected_version is not None and (row.version if row else 0) != expected_version:
        raise ScoringError("stale")
    before = (
        {"data": row.data, "not_applicable": row.not_applicable}
        if row
        else {"data": None, "not_applicable": False}
    )
    if row is None:
        row = IndicatorInput(engagement_id=engagement.id, code=code)
        session.add(row)
    row.data = frames.input_to_json(data)
    row.not_applicable = not_applicable
    row.updated_by_id = actor.id
    session.flush()
    changes = diff(before, {"data": row.data, "not_applicable": row.not_applicable})
    if changes:
        revision.bump(session, engagement.id)
        record(
            session,
            actor,
            "score.update",
            "indicator_input",
            row.id,
            engagement_id=engagement.id,
            changes=changes,
            summary=f"{code} {leaf.name}",
        )
    return row
