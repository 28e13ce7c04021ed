"""Every hint on the radio pages has an id of its own, and every aria-describedby resolves.

The first radio of a group used to give its hint the id of the whole question's hint, so a
screen reader read the general hint for "Anonymously" and never its own explanation
(WCAG 1.3.1). Checked on the report form and on the page for filing on someone's behalf,
which use the same macros.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient

from complaints.intake.wording import disclosure_options
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory, log_in, make_account
from tests.intake.test_views import Answers, Browser, fill_in
from tests.referral import CONFIDANT


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class _Page(HTMLParser):
    """Every element with an id (and its text), and every aria-describedby."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.by_id: dict[str, _Element] = {}
        self.described: list[_Element] = []
        self._open: list[_Element] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs})
        if "id" in element.attrs:
            self.ids.append(element.attrs["id"])
            self.by_id.setdefault(element.attrs["id"], element)
        if "aria-describedby" in element.attrs:
            self.described.append(element)
        if tag not in {"input", "br", "img", "meta", "link", "hr"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def text_of(self, element_id: str) -> str:
        return " ".join("".join(self.by_id[element_id].text).split())


def problems(markup: str) -> list[str]:
    """Duplicate ids and aria-describedby references that name no element."""
    page = _Page(markup)
    found = [f"duplicate id {i}" for i, n in Counter(page.ids).items() if n > 1]
    for element in page.described:
        for ref in element.attrs["aria-describedby"].split():
            if ref not in page.by_id:
                found.append(f"{element.attrs.get('id')} names missing {ref}")
    return found


def description_of(markup: str, value: str, name: str) -> list[str]:
    """The texts that describe the radio with this name and value."""
    page = _Page(markup)
    radio = next(
        e for e in page.described if e.attrs.get("name") == name and e.attrs.get("value") == value
    )
    return [page.text_of(ref) for ref in radio.attrs["aria-describedby"].split()]


def _anonymous_hint(app: Flask) -> str:
    with app.test_request_context(headers={"Cookie": "taal=en"}):
        return " ".join(str(disclosure_options()[0].hint).split())


def test_the_report_form_has_unique_hint_ids(app: Flask, client: FlaskClient, clock: Clock) -> None:
    with app_session(app) as session:
        import_demo_directory(session, clock())
    client.set_cookie("taal", "en")
    browser = Browser(client)
    fill_in(app, browser, Answers())
    pages = {url: browser.get(url) for url in ("/melden/wat", "/melden/wie", "/melden/route")}
    for url, response in pages.items():
        assert response.status_code == 200, url
        markup = response.get_data(as_text=True)
        assert problems(markup) == [], url
        # Every option hint is tied to its own option, the group's hint to the fieldset.
        assert 'fieldset class="fieldset" aria-describedby="' in markup, url
    who = pages["/melden/wie"].get_data(as_text=True)
    assert description_of(who, "anonymous", "disclosure") == [_anonymous_hint(app)]
    assert "Whatever you choose" in _Page(who).text_of("disclosure-hint")


def test_the_page_for_filing_on_someones_behalf_has_unique_hint_ids(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = make_account(session, people[CONFIDANT], clock())
    client.set_cookie("taal", "en")
    log_in(client, staff, clock())
    response = client.get("/zaken/namens-melden")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert problems(markup) == []
    assert description_of(markup, "anonymous", "disclosure") == [_anonymous_hint(app)]


# The macro as it was, to show that the checks above catch the fault.
_OLD_RADIOS = """
<fieldset aria-describedby="{{ f.id }}-hint">
  <p id="{{ f.id }}-hint">{{ hint }}</p>
  {% for option in options %}
    {% set input_id = f.id if loop.first else f.id ~ "-" ~ loop.index0 %}
    <input type="radio" id="{{ input_id }}" name="{{ f.name }}" value="{{ option.value }}"
      aria-describedby="{{ input_id }}-hint">
    <label for="{{ input_id }}">{{ option.label }}</label>
    <p id="{{ input_id }}-hint">{{ option.hint }}</p>
  {% endfor %}
</fieldset>
"""


def test_control_the_old_macro_output_fails(app: Flask) -> None:
    with app.test_request_context(headers={"Cookie": "taal=en"}):
        f = SimpleNamespace(id="disclosure", name="disclosure")
        markup = app.jinja_env.from_string(_OLD_RADIOS).render(
            f=f, options=disclosure_options(), hint="Whatever you choose, nobody can see it."
        )
    assert "duplicate id disclosure-hint" in problems(markup)
    assert description_of(markup, "anonymous", "disclosure") != [_anonymous_hint(app)]
