"""The retention policy (``config/retention.toml``), checked against the workflow at start-up.

The file's header documents its shape. A mistake — an unknown key or field, a negative period,
a rule that can never match, a finished case that no rule destroys or that two rules destroy —
raises ConfigurationError naming the file and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from flask import current_app

from complaints.cases.models import Route
from complaints.configfiles import Section, parsed_once, read_toml
from complaints.web.i18n import Localized
from complaints.workflow.config import Period, Workflow

_E = TypeVar("_E", bound=StrEnum)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_PERIOD_KEYS = ("years", "months", "days")
# Stands for "the case has no outcome" in a rule's outcomes list.
NO_OUTCOME = "none"


class Category(StrEnum):
    """Kinds of personal data the policy covers; each is one entry of the processing register."""

    CASE = "case"  # report and complaint files
    DRAFT = "draft"  # unfinished reports in the intake form
    SESSION = "session"  # follow-up mailbox sessions of complainants
    NOTIFICATION = "notification"  # the e-mail outbox (recipient, case reference)
    AUDIT = "audit"  # the audit log


class CountsFrom(StrEnum):
    CLOSED = "closed"  # the case reached a final state (closed_at)
    DECIDED = "decided"  # the case entered the state "decided"; else when it closed
    WITHDRAWN = "withdrawn"  # the complainant withdrew it (closed_at of a withdrawn case)
    LAST_ACTIVITY = "last_activity"  # the last change to the record
    FILED = "filed"  # the case was filed; other records: when they were made


class Action(StrEnum):
    DESTROY = "destroy"
    REDACT = "redact"


# What each category's rules may count from.
ALLOWED_FROM: dict[Category, frozenset[CountsFrom]] = {
    Category.CASE: frozenset(CountsFrom),
    Category.DRAFT: frozenset({CountsFrom.LAST_ACTIVITY}),
    Category.SESSION: frozenset({CountsFrom.LAST_ACTIVITY}),
    Category.NOTIFICATION: frozenset({CountsFrom.FILED}),
    Category.AUDIT: frozenset({CountsFrom.FILED}),
}

# Fields a redact rule may name, and what each removes (see retention.sweep.REDACTIONS).
REDACTABLE_FIELDS: dict[str, str] = {
    "complainant": "who filed: name and contact details, and the index that finds 'my reports'",
    "receipt": "the receipt code's index: the follow-up mailbox no longer opens",
    "description": "what happened, as the complainant wrote it",
    "incident": "when and where it happened, as written",
    "desired_outcome": "what the complainant hoped for",
    "parties": "everyone named: accused and witnesses",
    "witnesses": "the witnesses named",
    "attachments": "files added to the case",
    "messages": "messages between complainant and handlers",
    "notes": "internal notes of the handlers",
    "documents": "procedure documents and letters",
    "remarks": "the remarks written with each step",
    "consent_details": "what exactly was agreed with each consent",
}


@dataclass(frozen=True)
class Rule:
    name: str
    label: Localized
    category: Category
    # For case rules: the finished cases it covers; empty means any.
    routes: frozenset[Route]
    states: frozenset[str]
    outcomes: frozenset[str]  # outcome keys, or NO_OUTCOME
    counts_from: CountsFrom
    period: Period
    action: Action
    fields: tuple[str, ...]
    dpia_section: str
    legal_ground: Localized
    basis: Localized
    remind_before: Period | None
    extension: Period | None

    def covers(self, route: Route, state: str, outcome: str | None) -> bool:
        return (
            (not self.routes or route in self.routes)
            and (not self.states or state in self.states)
            and (not self.outcomes or (outcome or NO_OUTCOME) in self.outcomes)
        )


@dataclass(frozen=True)
class CategoryInfo:
    """One entry of the processing register (AVG art. 30), as the policy file describes it."""

    category: Category
    name: Localized
    purpose: Localized
    subjects: Localized
    data: Localized
    recipients: Localized


@dataclass(frozen=True)
class RetentionPolicy:
    path: Path
    version: str
    controller: Localized
    categories: dict[Category, CategoryInfo]
    rules: tuple[Rule, ...]

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def case_rules(self, route: Route, state: str, outcome: str | None) -> list[Rule]:
        """The rules for a finished case: its redactions in policy order, then its destruction."""
        matching = [
            r for r in self.rules if r.category is Category.CASE and r.covers(route, state, outcome)
        ]
        return sorted(matching, key=lambda r: r.action is Action.DESTROY)

    def destroy_rule(self, category: Category) -> Rule:
        """The one destroy rule of a category other than cases."""
        return next(r for r in self.rules if r.category is category and r.action is Action.DESTROY)


@parsed_once
def load_retention(path: Path, workflow: Workflow) -> RetentionPolicy:
    data = read_toml(path)
    root = Section(path, "", data)
    root.allow({"policy", "categories", "rules"})
    policy = root.child("policy")
    policy.allow({"version", "controller_nl", "controller_en"})
    categories = _categories(root.child("categories"))
    rules = _rules(root, workflow)
    for category in Category:
        if not any(r.category is category for r in rules):
            root.fail(f"no rule covers the category {category.value!r}")
    _check_coverage(root, rules, workflow)
    return RetentionPolicy(
        path=path,
        version=policy.text("version"),
        controller=policy.localized("controller_"),
        categories=categories,
        rules=tuple(rules),
    )


def retention_policy() -> RetentionPolicy:
    policy: RetentionPolicy = current_app.extensions["complaints.retention"]
    return policy


def _categories(section: Section) -> dict[Category, CategoryInfo]:
    section.allow(c.value for c in Category)
    infos = {}
    for category in Category:
        item = section.child(category.value)
        keys = ("name", "purpose", "subjects", "data", "recipients")
        item.allow({f"{k}_{lang}" for k in keys for lang in ("nl", "en")})
        infos[category] = CategoryInfo(
            category,
            *(item.localized(f"{k}_") for k in keys),
        )
    return infos


def _rules(root: Section, workflow: Workflow) -> list[Rule]:
    raw = root.table.get("rules")
    if not isinstance(raw, list) or not raw:
        root.fail("rules must be a non-empty list of tables ([[rules]])")
    rules: list[Rule] = []
    for index, table in enumerate(raw):
        where = f"rules[{index}]"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            where = f"rule {table['name']!r}"
        item = Section(root.path, where, table)
        rule = _rule(item, workflow)
        if any(r.name == rule.name for r in rules):
            item.fail("this name is used by another rule as well")
        rules.append(rule)
    return rules


def _rule(item: Section, workflow: Workflow) -> Rule:
    item.allow(
        {
            "name", "nl", "en", "category", "routes", "states", "outcomes", "from", "period",
            "action", "fields", "dpia_section", "legal_ground_nl", "legal_ground_en",
            "basis_nl", "basis_en", "remind_before", "extension",
        }
    )  # fmt: skip
    name = item.text("name")
    if not _NAME.match(name):
        item.fail("name must be lower case letters, digits, - or _ (at most 40)")
    category = _choice(item, "category", Category)
    action = _choice(item, "action", Action)
    counts_from = _choice(item, "from", CountsFrom)
    if counts_from not in ALLOWED_FROM[category]:
        allowed = ", ".join(sorted(f.value for f in ALLOWED_FROM[category]))
        item.fail(f"a {category.value} rule counts from {allowed}, not {counts_from.value!r}")
    routes, states, outcomes = _scope(item, category, workflow)
    fields = tuple(item.strings("fields", default=[]))
    if action is Action.REDACT:
        if category is not Category.CASE:
            item.fail("only case rules can redact; other records are destroyed")
        if not fields:
            item.fail("a redact rule must name the fields it removes")
        unknown = sorted(set(fields) - set(REDACTABLE_FIELDS))
        if unknown:
            item.fail(
                f"unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(REDACTABLE_FIELDS))}"
            )
    elif fields:
        item.fail("fields belong to redact rules; destroy removes the whole record")
    remind_before = _period(item, "remind_before", optional=True)
    extension = _period(item, "extension", optional=True)
    if category is not Category.CASE and (remind_before or extension):
        item.fail("reminders and extensions are for case rules only")
    return Rule(
        name=name,
        label=item.localized(),
        category=category,
        routes=routes,
        states=states,
        outcomes=outcomes,
        counts_from=counts_from,
        period=_period(item, "period"),  # type: ignore[arg-type]
        action=action,
        fields=fields,
        dpia_section=item.text("dpia_section"),
        legal_ground=item.localized("legal_ground_"),
        basis=item.localized("basis_"),
        remind_before=remind_before,
        extension=extension,
    )


def _choice(item: Section, key: str, enum: type[_E]) -> _E:
    value = item.text(key)
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(e.value for e in enum)
        item.fail(f"{key} {value!r} is not one of {known}")


def _scope(
    item: Section, category: Category, workflow: Workflow
) -> tuple[frozenset[Route], frozenset[str], frozenset[str]]:
    if category is not Category.CASE:
        for key in ("routes", "states", "outcomes"):
            if key in item.table:
                item.fail(f"{key} applies to case rules only")
        return frozenset(), frozenset(), frozenset()
    route_names = item.strings("routes", default=[])
    unknown = sorted(set(route_names) - {r.value for r in Route})
    if unknown:
        item.fail(f"unknown route(s) {', '.join(unknown)}")
    routes = frozenset(Route(r) for r in route_names)
    in_scope = [workflow[r] for r in (routes or Route)]
    states = frozenset(item.strings("states", default=[]))
    finals = set().union(*(w.final for w in in_scope))
    unknown = sorted(states - finals)
    if unknown:
        item.fail(
            f"state(s) {', '.join(unknown)} are not final states of its routes; "
            "retention applies to finished cases only"
        )
    outcomes = frozenset(item.strings("outcomes", default=[]))
    known_outcomes = set().union(*(w.outcomes for w in in_scope)) | {NO_OUTCOME}
    unknown = sorted(outcomes - known_outcomes)
    if unknown:
        item.fail(f"unknown outcome(s) {', '.join(unknown)} (use {NO_OUTCOME!r} for none)")
    return routes, states, outcomes


def _period(item: Section, key: str, *, optional: bool = False) -> Period | None:
    if key not in item.table and optional:
        return None
    section = item.child(key)
    section.allow(_PERIOD_KEYS)
    amounts = {}
    for name in _PERIOD_KEYS:
        value = section.table.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            section.fail(f"{name} must be a whole number")
        if value < 0:
            section.fail(f"{name} is negative ({value}); a period cannot run backwards")
        amounts[name] = value
    if not amounts:
        section.fail("give years, months or days")
    return Period(
        months=12 * amounts.get("years", 0) + amounts.get("months", 0),
        days=amounts.get("days", 0),
    )


def _check_coverage(root: Section, rules: Iterable[Rule], workflow: Workflow) -> None:
    """Every kind of finished case is destroyed by exactly one rule."""
    destroyers = [r for r in rules if r.category is Category.CASE and r.action is Action.DESTROY]
    for route in Route:
        route_flow = workflow[route]
        for state in sorted(route_flow.final):
            for outcome in [None, *sorted(route_flow.outcomes)]:
                matching = [r.name for r in destroyers if r.covers(route, state, outcome)]
                kind = f"{route.value} cases in state {state!r}" + (
                    f" with outcome {outcome!r}" if outcome else " without an outcome"
                )
                if not matching:
                    root.fail(f"no rule destroys {kind}; every finished case needs one")
                if len(matching) > 1:
                    root.fail(f"{kind} are destroyed by more than one rule: {', '.join(matching)}")
    for category in Category:
        if category is Category.CASE:
            continue
        names = [r.name for r in rules if r.category is category]
        if len(names) > 1:
            root.fail(f"the category {category.value!r} has more than one rule: {', '.join(names)}")
