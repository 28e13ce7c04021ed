"""Filing on someone's behalf and passing a report on, in a real browser. Every page on the way
is checked by axe-core, for reflow and for its error summary (errors included)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from complaints.cases.models import Case, ConsentKind
from complaints.crypto.services import keystore
from complaints.followup.services import set_consent
from complaints.workflow.config import workflow
from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, make_account, totp_code
from tests.referral import CONFIDANT, file

pytestmark = pytest.mark.browser


class StaffPage(AppPage):
    """A staff page with forms, found by the address they post to."""

    def submit(self, form: str, button: str = "button[type=submit]") -> StaffPage:
        self._navigate(self.page.locator(f"form[action$='{form}'] {button}").click)
        return StaffPage(self.page, self.axe)


def _log_in(page: Page, axe: Axe, email: str, secret: str, clock: Clock) -> AppPage:
    return LoginPage.open(page, axe).log_in(email, PASSWORD).enter_code(totp_code(secret, clock()))


def test_a_confidant_files_for_an_employee_and_passes_a_report_on(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        case = file(session, people, clock()).case
        set_consent(
            session,
            keystore(),
            workflow(),
            case,
            kind=ConsentKind.REFERRAL,
            given=True,
            now=clock(),
        )
        case_id, reference = case.id, case.reference
        secret = make_account(session, people[CONFIDANT], clock()).totp_secret
    assert secret is not None
    _log_in(page, axe, CONFIDANT, secret, clock)
    assert urlsplit(page.url).path == "/zaken"  # a confidant lands on their cases

    # On someone's behalf: first sent empty, then filled in.
    page.goto("/zaken/namens-melden")
    proxy = StaffPage(page, axe)
    proxy = proxy.submit("/zaken/namens-melden", "button[value=review]")
    expect(proxy.error_summary).to_have_count(1)
    page.locator("#accused_query").fill("Bakker")
    proxy = proxy.submit("/zaken/namens-melden", "button[value=search_accused]")
    page.locator("input[name=accused_pick]").first.check()
    page.locator("input[name=disclosure][value=confidential]").check()
    page.locator("#name").fill("Sanne de Vries")
    page.locator("input[name=channel][value=walk_in]").check()
    page.locator("input[name=category][value=discrimination]").check()
    page.locator("input[name=grounds][value=race]").check()
    page.locator("#description").fill("Een collega maakt steeds grappen over mijn afkomst.")
    page.locator("input[name=route][value=confidant]").check()
    # The review: who will receive it (the confidant keeps it), then back to change an answer,
    # which is still filled in, and the review again; nothing is filed until "File the report".
    reviewed = proxy.submit("/zaken/namens-melden", "button[value=review]")
    expect(page.locator("[data-recipient]")).to_have_count(1)
    expect(page.locator(".receipt-code")).to_have_count(0)
    back = reviewed.submit("/zaken/namens-melden", "button[data-change=what] >> nth=0")
    expect(page.locator("#description")).to_have_value(
        "Een collega maakt steeds grappen over mijn afkomst."
    )
    page.locator("#desired_outcome").fill("Dat het stopt.")
    reviewed = back.submit("/zaken/namens-melden", "button[value=review]")
    expect(page.locator(".review-list")).to_contain_text("Dat het stopt.")
    done = reviewed.submit("/zaken/namens-melden", "button[value=submit]")
    expect(page.locator(".receipt-code")).to_have_count(1)
    expect(done.heading).to_have_count(1)

    # Passing a report on: consent by phone, then the referral, with one refusal on the way.
    page.goto(f"/zaken/{case_id}/doorverwijzen")
    refer = StaffPage(page, axe)
    expect(refer.heading).to_contain_text(reference)
    refer = refer.submit("/doorverwijzen")
    expect(refer.error_summary).to_have_count(1)
    page.locator("input[name=consent_scope][value=with_identity]").check()
    page.locator("input[name=channel][value=phone]").check()
    page.locator("#given_on").fill("2026-03-02")
    refer = refer.submit("/doorverwijzen/toestemming")
    expect(refer.notices).to_have_count(1)
    page.locator("input[name=choice][value='committee:with_identity']").check()
    refer = refer.submit("/doorverwijzen")
    expect(page.locator("[data-referred='committee']")).to_have_count(1)
    with app_session(committed_app) as session:
        referred = session.scalars(sa.select(Case).where(Case.referred_from_id == case_id)).all()
        assert len(referred) == 1
