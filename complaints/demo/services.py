"""Seeding the demo organisation into an empty database (development only)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from complaints.accounts.models import Account, RoleAssignment
from complaints.accounts.services import Passwords, create_account
from complaints.audit.services import Actor
from complaints.crypto.keystore import KeyStore
from complaints.directory.models import Person
from complaints.directory.services import import_directory

DEMO_FILES = Path(__file__).resolve().parent
PASSWORD_FILE = "demo-password"  # noqa: S105 - a file name


@dataclass(frozen=True)
class DemoLogin:
    login: str
    name: str
    roles: str


def demo_password(instance_path: Path) -> str:
    """One random password for all demo accounts, made once and kept in the instance folder."""
    path = instance_path / PASSWORD_FILE
    if not path.exists():
        words = "-".join(secrets.token_hex(3) for _ in range(3))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"demo-{words}\n")
    return path.read_text().strip()


def is_empty(session: Session) -> bool:
    return not session.scalar(sa.select(sa.func.count()).select_from(Person))


def seed_demo(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    *,
    password: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Import the demo directory and give every demo person an account with ``password``."""
    import_directory(
        session,
        keys,
        org_file=DEMO_FILES / "org.csv",
        people_file=DEMO_FILES / "people.csv",
        actor=actor,
        now=now,
    )
    for person in session.scalars(sa.select(Person).order_by(Person.employee_number)):
        create_account(
            session,
            keys,
            passwords,
            person=person,
            password=password,
            must_change_password=False,
            actor=actor,
            now=now,
        )


def demo_logins(session: Session) -> list[DemoLogin]:
    """Accounts worth trying first: everyone with a role, every manager, and a few employees."""
    accounts = session.scalars(
        sa.select(Account).options(joinedload(Account.person)).order_by(Account.person_id)
    ).all()
    roles: dict[int, list[str]] = {}
    for assignment in session.scalars(
        sa.select(RoleAssignment).options(joinedload(RoleAssignment.scope_unit))
    ):
        scope = f"@{assignment.scope_unit.code}" if assignment.scope_unit else ""
        roles.setdefault(assignment.person_id, []).append(f"{assignment.role.value}{scope}")
    managers = set(
        session.scalars(sa.select(Person.manager_id).where(Person.manager_id.is_not(None)))
    )
    result = []
    employees = 0
    for account in accounts:
        labels = roles.get(account.person_id, [])
        if account.person_id in managers:
            labels = [*labels, "manager"]
        if not labels:
            employees += 1
            if employees > 3:
                continue
            labels = ["employee"]
        result.append(DemoLogin(account.login, account.person.name, ", ".join(labels)))
    return result
