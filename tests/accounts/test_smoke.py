from tests.conftest import app_session
from tests.factories import log_in, make_account, make_org, make_person


def test_login_flow(app, client, clock):
    with app_session(app) as session:
        org = make_org(session, clock())
        staff = make_account(session, make_person(session, org.directorate, clock()), clock())
    response = log_in(client, staff, clock())
    assert response.headers["Location"].endswith("/account")
    page = client.get("/account")
    assert page.status_code == 200
    assert staff.person.name in page.get_data(as_text=True)
