"""Moving a case through its procedure: the transitions of ``config/workflow.toml``.

:func:`apply_transition` is the one way a handler changes a case's state (or takes an action
such as extending the decision term). It refuses what the workflow does not allow, with a
message the handler can read; it never writes half: the state, the deadlines, the outcome,
the case event (its values encrypted), the audit event and the stat event are written in one
savepoint of the caller's transaction, or none of them.

A step into a final state plans the route's check-ins after closing (``complaints.checkins``).

A step with ``to_complainant`` fields also puts their text in the complainant's mailbox, as a
message from the handler that names the step, in the same savepoint. A message that cannot be
sealed (the case's key is gone) refuses the whole step: nothing is written, no deadline is
met, and the handler is told why (``TransitionRefused`` with reason "undeliverable").

Two handlers working on the same case: ``Case.version`` is SQLAlchemy's version counter. A
form carries the version it was loaded at; a case that has moved on since (or that another
transaction changes underneath, found when the UPDATE matches no row) raises
:class:`ChangedMeanwhile`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import force_locale
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from complaints.accounts.models import Account
from complaints.audit.models import ActorKind
from complaints.audit.services import Actor, record_event
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    Consent,
    ConsentKind,
    Deadline,
    GrantRole,
    Message,
)
from complaints.checkins.services import plan_checkins
from complaints.crypto.envelope import DecryptionFailed, FieldCipher
from complaints.crypto.keystore import KeyStore, KeyStoreError
from complaints.crypto.services import MissingCaseKey, case_cipher
from complaints.stats.services import record_stat
from complaints.web.i18n import _
from complaints.workflow.config import (
    DeadlineEffects,
    FieldSpec,
    RouteWorkflow,
    TransitionSpec,
    Workflow,
)
from complaints.workflow.services import (
    enter_state,
    extend_deadline,
    local_date,
    pause_deadline,
    postpone_deadline,
    resume_deadline,
    running_deadline,
)

__all__ = [
    "ChangedMeanwhile",
    "FieldSpec",
    "TransitionRefused",
    "TransitionSpec",
    "apply_transition",
    "available_transitions",
    "check_transition",
    "clean_values",
    "event_values",
    "grant_roles",
    "live_consent",
]

MAX_TEXT = 20_000
_YES = frozenset({"yes", "y", "true", "on", "1"})
_NO = frozenset({"", "no", "n", "false", "off", "0"})
Value = str | bool


class TransitionRefused(Exception):
    """The step is not allowed now. ``message`` is translated, for the handler to read;
    ``reason`` is a code for tests and logs ("unknown", "state", "role", "field", "consent",
    "deadline", "undeliverable"); ``field`` names the form field at fault, if any."""

    def __init__(self, message: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field


class ChangedMeanwhile(Exception):
    """Someone else changed the case after the form was loaded; nothing was saved."""

    @property
    def message(self) -> str:
        with _language():
            return _(
                "Someone else changed this case while you were working on it. Nothing was saved: "
                "look at the case as it is now and try again."
            )


@contextmanager
def _language() -> Iterator[None]:
    """Messages in the request's language; outside a request (CLI, tests) in Dutch."""
    if has_request_context():
        yield
    else:
        with force_locale("nl"):
            yield


# What is offered ----------------------------------------------------------------------------


def grant_roles(session: Session, case: Case, person_id: int) -> set[GrantRole]:
    """The roles of the person's active grants on the case: what they may do on it."""
    return set(
        session.scalars(
            sa.select(CaseAccessGrant.role).where(
                CaseAccessGrant.case_id == case.id,
                CaseAccessGrant.person_id == person_id,
                CaseAccessGrant.revoked_at.is_(None),
            )
        )
    )


def available_transitions(
    workflow: Workflow, case: Case, roles: set[GrantRole]
) -> list[TransitionSpec]:
    """The steps these grant roles can take on the case in its current state, in file order.

    Extensions that have been used up (or are not yet due, such as an extension that needs
    the statutory one first) are left out. A missing consent is not: the step is offered and
    refused with a message that says which consent is needed.
    """
    session = object_session(case)
    offered = []
    with _language():
        for spec in workflow[case.route].transitions:
            if case.state not in spec.from_states or not roles & spec.roles:
                continue
            if session is not None and _deadline_problem(session, case, spec.effects):
                continue
            offered.append(spec)
    return offered


def check_transition(
    session: Session,
    workflow: Workflow,
    case: Case,
    name: str,
    *,
    roles: set[GrantRole],
    values: Mapping[str, str],
) -> tuple[TransitionSpec, dict[str, Value]]:
    """The transition and its cleaned values, or TransitionRefused saying why not."""
    with _language():
        return _checked(session, workflow, case, name, roles=roles, values=values)


def _checked(
    session: Session,
    workflow: Workflow,
    case: Case,
    name: str,
    *,
    roles: set[GrantRole],
    values: Mapping[str, str],
) -> tuple[TransitionSpec, dict[str, Value]]:
    route = workflow[case.route]
    spec = route.transition(name)
    if spec is None:
        raise TransitionRefused(_("This step does not exist for this case."), reason="unknown")
    if case.state not in spec.from_states:
        raise TransitionRefused(
            _(
                "“%(step)s” is not possible while the case is “%(state)s”.",
                step=str(spec.label),
                state=str(route.state(case.state).label),
            ),
            reason="state",
        )
    if not roles & spec.roles:
        raise TransitionRefused(
            _("Your role on this case does not allow “%(step)s”.", step=str(spec.label)),
            reason="role",
        )
    problem = _deadline_problem(session, case, spec.effects)
    if problem is not None:
        raise TransitionRefused(problem, reason="deadline")
    cleaned = clean_values(route, spec, values)
    if spec.requires_consent is not None and not live_consent(session, case, spec.requires_consent):
        raise TransitionRefused(_consent_message(spec.requires_consent), reason="consent")
    return spec, cleaned


# Taking a step ------------------------------------------------------------------------------


def apply_transition(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    name: str,
    *,
    actor_person_id: int,
    roles: set[GrantRole],
    values: dict[str, str],
    expected_version: int,
    now: datetime,
    actor: Actor | None = None,
) -> CaseEvent:
    """Take the step ``name`` on the case, in the caller's transaction; see the module text.

    ``actor`` is who the audit log names; by default the staff account of ``actor_person_id``.
    """
    if case.version != expected_version or _version_now(session, case) != expected_version:
        raise ChangedMeanwhile(case.reference)
    spec, cleaned = check_transition(session, workflow, case, name, roles=roles, values=values)
    try:
        with session.begin_nested():
            event = _take(session, keys, workflow, case, spec, cleaned, actor_person_id, now)
            _audit(session, keys, case, spec, event, actor_person_id, actor, now)
    except StaleDataError as exc:
        raise ChangedMeanwhile(case.reference) from exc
    except (MissingCaseKey, KeyStoreError, DecryptionFailed) as exc:
        with _language():
            message = _(
                "This step was not recorded: this case's key cannot be opened, so what you "
                "wrote, and the message to the complainant, could not be sealed. Nothing was "
                "saved and no time limit was marked as met. Keep what you wrote and ask the "
                "application manager."
            )
        raise TransitionRefused(message, reason="undeliverable") from exc
    return event


def _version_now(session: Session, case: Case) -> int | None:
    """The case's version as committed now, with its row locked for this transaction.

    The caller's copy may have been loaded before another handler's step committed, while
    what the step checks (an earlier extension, a deadline) is read afterwards and already
    sees that step: the version is read again, under the row lock, so the loser hears
    "changed meanwhile" rather than a refusal of the step it saw offered. On PostgreSQL the
    lock also makes the second of two steps at once wait here for the first to finish."""
    return session.scalar(sa.select(Case.version).where(Case.id == case.id).with_for_update())


def _take(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    spec: TransitionSpec,
    values: dict[str, Value],
    actor_person_id: int,
    now: datetime,
) -> CaseEvent:
    route = workflow[case.route]
    previous = case.state
    _change_case(case, route, spec, values, now)
    # First the case row: a stale copy fails here, before anything else is written.
    session.flush()
    _apply_effects(session, case, spec.effects, now)
    event_id = uuid.uuid4()
    event = CaseEvent(
        id=event_id,
        case_id=case.id,
        occurred_at=now,
        kind=spec.name,
        from_state=previous,
        to_state=spec.to,
        actor_person_id=actor_person_id,
        remark=_sealed_values(session, keys, case, event_id, values),
    )
    session.add(event)
    session.flush()
    # Before the state is entered: a deadline met only by a message sees this one.
    _tell_complainant(session, keys, case, spec, values, event_id, actor_person_id, now)
    met = enter_state(session, workflow, case, spec.to, now) if spec.to is not None else []
    if spec.to is not None and spec.to in route.final:
        plan_checkins(session, route, case)
    if spec.stat is not None:
        _count(session, case, spec.stat, met, now)
    session.flush()
    return event


def _change_case(
    case: Case, route: RouteWorkflow, spec: TransitionSpec, values: dict[str, Value], now: datetime
) -> None:
    if spec.to is not None:
        case.state = spec.to
        if spec.to in route.final:
            case.closed_at = now
    outcome = spec.outcome or next(
        (str(values[f.name]) for f in spec.fields if f.kind == "outcome" and f.name in values),
        None,
    )
    if outcome is not None:
        case.outcome = outcome
    case.updated_at = now
    # Always an UPDATE, so the version moves on even for an action that keeps the state.
    flag_modified(case, "updated_at")


def _apply_effects(session: Session, case: Case, effects: DeadlineEffects, now: datetime) -> None:
    for name in sorted(effects.names):
        deadline = running_deadline(session, case, name)
        if deadline is None:
            continue
        if name in effects.pause:
            pause_deadline(deadline, now)
        if name in effects.resume:
            resume_deadline(deadline, now)
        if name in effects.postpone:
            postpone_deadline(deadline, effects.postpone[name])
        if name in effects.extend:
            extend_deadline(deadline, effects.extend[name])
    session.flush()


def _sealed_values(
    session: Session,
    keys: KeyStore,
    case: Case,
    event_id: uuid.UUID,
    values: dict[str, Value],
) -> bytes | None:
    if not values:
        return None
    text = json.dumps(values, ensure_ascii=False, sort_keys=True)
    return case_cipher(session, keys, case.id).seal_text("case_events", "remark", event_id, text)


def _tell_complainant(
    session: Session,
    keys: KeyStore,
    case: Case,
    spec: TransitionSpec,
    values: dict[str, Value],
    event_id: uuid.UUID,
    actor_person_id: int,
    now: datetime,
) -> Message | None:
    """The step's to_complainant texts as one message from the handler, or None."""
    texts = [str(values[f.name]) for f in spec.fields if f.to_complainant and f.name in values]
    if not texts:
        return None
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        case_id=case.id,
        author_kind=AuthorKind.HANDLER,
        author_person_id=actor_person_id,
        body=case_cipher(session, keys, case.id).seal_text(
            "messages", "body", message_id, "\n\n".join(texts)
        ),
        created_at=now,
        event_id=event_id,
    )
    session.add(message)
    session.flush()
    return message


def _audit(
    session: Session,
    keys: KeyStore,
    case: Case,
    spec: TransitionSpec,
    event: CaseEvent,
    actor_person_id: int,
    actor: Actor | None,
    now: datetime,
) -> None:
    record_event(
        session,
        keys,
        actor=actor or _staff(session, actor_person_id),
        action="case.transition",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={
            "transition": spec.name,
            "from_state": event.from_state,
            "to_state": spec.to,
            "person_id": actor_person_id,
            "version": case.version,
        },
    )


def _staff(session: Session, person_id: int) -> Actor:
    account_id = session.scalar(sa.select(Account.id).where(Account.person_id == person_id))
    if account_id is None:
        return Actor(ActorKind.SYSTEM)
    return Actor.staff(account_id)


def _count(session: Session, case: Case, kind: str, met: list[Deadline], now: datetime) -> None:
    """A stat event: the outcome and the calendar days since filing; the deadline it met."""
    days = (local_date(now) - local_date(case.submitted_at)).days
    deadline = met[0] if met else None
    record_stat(
        session,
        case,
        kind,
        now=now,
        outcome=case.outcome,
        days_taken=max(0, days),
        deadline=deadline.name if deadline else None,
        deadline_met=local_date(now) <= deadline.due_on if deadline else None,
    )


# Checks -------------------------------------------------------------------------------------


def live_consent(session: Session, case: Case, kind: ConsentKind) -> bool:
    """Whether the complainant has given this consent and not withdrawn it."""
    return (
        session.scalar(
            sa.select(Consent.id)
            .where(Consent.case_id == case.id, Consent.kind == kind, Consent.withdrawn_at.is_(None))
            .limit(1)
        )
        is not None
    )


def _consent_message(kind: ConsentKind) -> str:
    names = {
        ConsentKind.REFERRAL: _("referral to another route"),
        ConsentKind.SHARE_IDENTITY: _("sharing who filed the report"),
        ConsentKind.MEDIATION: _("mediation"),
        ConsentKind.EXTENSION: _("a longer decision term"),
    }
    return _(
        "This step needs the complainant's consent to %(consent)s. It has not been given, "
        "or it was withdrawn.",
        consent=names[kind],
    )


def _deadline_problem(session: Session, case: Case, effects: DeadlineEffects) -> str | None:
    """Why an extension cannot be taken now, or None."""
    for name in sorted(effects.extend):
        deadline = running_deadline(session, case, name)
        if deadline is None:
            return _("This time limit is not running, so it cannot be extended.")
        if effects.max_extensions is not None and deadline.extensions >= effects.max_extensions:
            return _("This time limit has already been extended as far as this step allows.")
        if deadline.extensions < effects.after_extensions:
            return _("This extension is only possible after the statutory extension.")
    return None


def clean_values(
    route: RouteWorkflow, spec: TransitionSpec, values: Mapping[str, str]
) -> dict[str, Value]:
    """The transition's fields from ``values``, checked; anything else in ``values`` is ignored.

    Empty optional fields are left out; a ticked boolean is True, an unticked one False.
    """
    cleaned: dict[str, Value] = {}
    for field in spec.fields:
        value = _clean(route, field, values.get(field.name, ""))
        if value != "":
            cleaned[field.name] = value
    for field in spec.fields:
        required = field.required or (
            field.required_if is not None and cleaned.get(field.required_if) is True
        )
        if required and field.name not in cleaned:
            raise TransitionRefused(
                _("Please fill in “%(field)s”.", field=str(field.label)),
                reason="field",
                field=field.name,
            )
    return cleaned


def _clean(route: RouteWorkflow, field: FieldSpec, raw: str) -> Value:
    text = raw.strip() if isinstance(raw, str) else ""
    if field.kind == "boolean":
        if text.lower() not in _YES | _NO:
            raise _invalid(field)
        return text.lower() in _YES
    if not text:
        return ""
    if field.kind == "outcome" and text not in field.choices:
        raise _invalid(field)
    if field.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise _invalid(field) from None
    if len(text) > MAX_TEXT:
        raise TransitionRefused(
            _("“%(field)s” is too long.", field=str(field.label)),
            reason="field",
            field=field.name,
        )
    return text


def _invalid(field: FieldSpec) -> TransitionRefused:
    return TransitionRefused(
        _("Please choose a valid value for “%(field)s”.", field=str(field.label)),
        reason="field",
        field=field.name,
    )


# Reading back -------------------------------------------------------------------------------


def event_values(cipher: FieldCipher, event: CaseEvent) -> dict[str, Value]:
    """What the handler filled in with a transition, decrypted (empty for other events).

    ``cipher`` is the case's (``case_cipher(session, keys, case_id)``); labels come from the
    transition's fields: ``workflow[route].transition(event.kind).field_spec(name)``.
    """
    if event.remark is None:
        return {}
    text = cipher.open_text("case_events", "remark", event.id, event.remark)
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v for k, v in loaded.items() if isinstance(v, str | bool)}
