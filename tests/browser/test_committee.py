"""The committee procedure in a real browser: the secretary assigns a member, records a hearing,
the advice and a decision that departs from it, and writes the decision letter; axe-core, the
reflow check and the error-summary check run on every page on the way, errors included."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.committee import KOK, SECRETARY, TO_HEARING, advance, file_complaint, staff
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, totp_code

pytestmark = pytest.mark.browser


class CommitteePage(AppPage):
    """/zaken/<id>/commissie; forms are found by the address they post to."""

    def form(self, action: str) -> str:
        return f"form[action$='/commissie{action}']"

    def submit(self, action: str) -> CommitteePage:
        self._navigate(self.page.locator(f"{self.form(action)} button[type=submit]").click)
        return CommitteePage(self.page, self.axe)


def log_in(page: Page, axe: Axe, email: str, clock: Clock, secret: str) -> AppPage:
    totp = LoginPage.open(page, axe).log_in(email, PASSWORD)
    return totp.enter_code(totp_code(secret, clock()))


def test_a_formal_complaint_from_members_to_the_decision_letter(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        complaint = file_complaint(session, people, clock())
        advance(session, complaint.case_id, people[SECRETARY], clock(), *TO_HEARING)
        kok_id = people[KOK].id
    secretary = staff(committed_app, SECRETARY, clock())
    assert secretary.totp_secret is not None
    log_in(page, axe, SECRETARY, clock, secretary.totp_secret)
    page.goto(f"/zaken/{complaint.case_id}/commissie")
    committee = CommitteePage(page, axe)
    expect(committee.heading).to_contain_text(complaint.reference)

    page.locator("#assign-person_id").select_option(str(kok_id))
    committee = committee.submit("/leden")
    expect(committee.notices).to_have_count(1)
    expect(page.locator(f"tr[data-member='{kok_id}']")).to_have_count(1)

    # A refused form: the summary leads to the fields, axe checks the page in its error state.
    committee = committee.submit("/leden/uitsluiten")
    expect(committee.error_summary).to_have_count(1)
    expect(page.locator("#exclude-reason-error")).to_have_count(1)

    page.locator("#hearing-heard-1").check()
    page.locator("#hearing-heard_on").fill("2026-03-20")
    page.locator("#hearing-report").fill("Verweerster is gehoord.")
    committee = committee.submit("/hoorzitting")
    expect(page.locator("#hoorzittingen li.message")).to_have_count(1)

    page.locator("#advice-recommended").select_option("unfounded")
    page.locator("#advice-summary").fill("De commissie adviseert: ongegrond.")
    committee = committee.submit("/advies")

    page.locator("#decision-outcome").select_option("founded")
    page.locator("#decision-reasons").fill("Het gedrag was structureel.")
    committee = committee.submit("/besluit")
    expect(committee.error_summary).to_have_count(1)
    expect(page.locator("#decision-departure_reason-error")).to_have_count(1)
    page.locator("#decision-departure_reason").fill("Getuige A weegt zwaarder.")
    committee = committee.submit("/besluit")
    expect(page.locator("[data-outcome='founded']")).to_have_count(1)

    committee = committee.submit("/brieven/decision")
    link = page.locator("#brieven a[download]")
    expect(link).to_have_count(1)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith(f"{complaint.reference}-decision-")
    assert download.value.suggested_filename.endswith(".html")

    committee = committee.switch_language()
    assert committee.language in {"en", "nl"}


def test_someone_without_a_committee_grant_gets_the_not_found_page(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        complaint = file_complaint(session, people, clock())
    member = staff(committed_app, KOK, clock())
    assert member.totp_secret is not None
    log_in(page, axe, KOK, clock, member.totp_secret)
    for case_id in (complaint.case_id, uuid.uuid4()):
        response = page.goto(f"/zaken/{case_id}/commissie")
        assert response is not None
        assert response.status == 404
        AppPage(page, axe)
