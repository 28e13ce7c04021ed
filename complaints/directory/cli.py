"""``flask --app wsgi directory import ORG.csv PEOPLE.csv``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from complaints import db
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.directory.services import DirectoryImportError, import_directory

group = AppGroup("directory", help="The organisation directory (org units and people).")


@group.command("import", help="Import org units and people; see docs/directory-import.md.")
@click.argument("org_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("people_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--deactivate-missing",
    is_flag=True,
    help="Deactivate units and people (and their accounts) that the files no longer list.",
)
@click.option("--dry-run", is_flag=True, help="Check the files and report, but change nothing.")
def import_command(
    org_file: Path, people_file: Path, deactivate_missing: bool, dry_run: bool
) -> None:
    session = db.session()
    try:
        report = import_directory(
            session,
            keystore(),
            org_file=org_file,
            people_file=people_file,
            actor=Actor.operator(),
            now=now(),
            deactivate_missing=deactivate_missing,
        )
    except DirectoryImportError as exc:
        db.rollback()
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"{len(exc.problems)} problem(s); nothing was imported"
        ) from None
    if dry_run:
        db.rollback()
    else:
        db.commit()
    prefix = "dry run, nothing changed: " if dry_run else ""
    click.echo(f"{prefix}org units: {report.units}")
    click.echo(f"{prefix}people: {report.people}")
    click.echo(f"{prefix}roles: {report.roles_added} added, {report.roles_removed} removed")
