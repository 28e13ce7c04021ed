"""Org units and people, as imported from the organisation's directory.

Directory data is not case content: names and units are what every colleague can look up.
Whether someone is *named in a case* is secret, and lives encrypted with the case.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from complaints.db import Base


class OrgUnitKind(StrEnum):
    GOVERNMENT = "government"
    MINISTRY = "ministry"
    DIRECTORATE_GENERAL = "directorate_general"
    DIRECTORATE = "directorate"
    AGENCY = "agency"
    DEPARTMENT = "department"
    TEAM = "team"


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[OrgUnitKind]
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    # The ministry this unit belongs to (itself for a ministry; none for the government root).
    # Kept so routing and statistics never have to walk the tree.
    ministry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]

    parent: Mapped[OrgUnit | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], lazy="raise"
    )


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    job_title: Mapped[str] = mapped_column(sa.String(200), default="")
    unit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]

    unit: Mapped[OrgUnit] = relationship(lazy="raise")
