"""Single sign-on in Debian's Chromium: the real app against a real OpenID Connect provider.

The provider is ``oidc-provider-mock``, run on a free localhost port by the fixture: its
authorization page asks for the subject (which becomes the e-mail claim), or offers preset
accounts with claims of their own (here a clinician who is in the "Psychiatry" group). The app
runs as ``make run`` runs it, on a throwaway database, with a ``secrets.toml`` of its own (the
``[auth]`` section and the ``[roles]`` table) handed over through Streamlit's ``secrets.files``
option, so the repository's ``.streamlit/`` is left alone and its ``config.toml`` still applies.
Screenshots go to ``screenshots/`` at 1440 and 1024 px. Without ``/usr/bin/chromium`` these tests
skip, unless ``REQUIRE_BROWSER=1`` makes that a failure.
"""

import secrets

import pytest
from oidc_provider_mock import User, run_server_in_thread

from tests.app.test_browser import AppServer, screenshots_at_both_widths

pytestmark = pytest.mark.browser

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
SIGN_IN_BUTTON = "Sign in with the clinic's account"
DIRECTOR_EMAIL = "director@clinic.example"
# Mapped by group, not by address: the provider's preset account carries the group claim.
CLINICIAN_SUB = "clinician-7"
CLINICIAN_EMAIL = "ana.silva@clinic.example"
STRANGER_EMAIL = "visitor@elsewhere.example"
ROLES = {DIRECTOR_EMAIL: "director", "group:psychiatry": "clinician"}
DIRECTOR_PAGES = [
    "Overview", "Outcomes", "Durability", "Safety", "Cohorts & patients", "Claims check", "Data",
    "Settings", "Import history", "Audit log", "Users", "Glossary",
]  # fmt: skip


@pytest.fixture(scope="module")
def identity_provider() -> str:
    """A running OpenID Connect provider on localhost; its base URL."""
    clinician = User(
        sub=CLINICIAN_SUB,
        claims={"email": CLINICIAN_EMAIL, "email_verified": True, "groups": ["Psychiatry"]},
    )
    with run_server_in_thread(user_claims=[clinician]) as server:
        yield f"http://localhost:{server.server_port}"


def secrets_toml(app_port: int, provider_url: str, roles: dict[str, str]) -> str:
    """The ``secrets.toml`` of an app on ``app_port`` signing in through ``provider_url``."""
    lines = [
        "[auth]",
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"',
        f'cookie_secret = "{secrets.token_urlsafe(32)}"',
        'client_id = "clinic-dashboard"',
        f'client_secret = "{secrets.token_urlsafe(16)}"',
        f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"',
        "",
        "[roles]",
        *(f'"{key}" = "{role}"' for key, role in roles.items()),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def sso_server(chromium_path, identity_provider, sample_dir, tmp_path_factory):
    """The app with single sign-on on an empty database; the browser opens it as localhost."""
    folder = tmp_path_factory.mktemp("sso")
    app = AppServer(f"sqlite:///{folder / 'clinic.sqlite'}", sample_dir)
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(secrets_toml(app.port, identity_provider, ROLES))
    # replaces the default places (~/.streamlit/ and ./.streamlit/): only this file is read
    app.env["STREAMLIT_SECRETS_FILES"] = str(secrets_file)
    app.start()
    # the provider redirects back to the redirect_uri's host: the cookies must be set there
    app.url = f"http://localhost:{app.port}"
    try:
        yield app
    finally:
        app.stop()


def _settle(page) -> None:
    """Wait until the script run is over and every element has drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')
              && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                   .every(c => c.querySelector('.main-svg'))""",
        timeout=90_000,
    )
    page.wait_for_timeout(400)


def _nav_labels(page) -> list[str]:
    # the material icon's name is text too: the label is the last line
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return [t.strip().splitlines()[-1] for t in links]


def _open_provider(page, app_url: str) -> None:
    """Open the app signed out, then follow its button to the provider's authorization page."""
    page.goto(app_url)
    button = page.get_by_role("button", name=SIGN_IN_BUTTON)
    button.wait_for()
    _settle(page)
    button.click()
    page.wait_for_selector('input[name="sub"]')


def _back_in_the_app(page) -> None:
    """Wait for the app's first run after the provider redirected back."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        """() => [...document.querySelectorAll('h1')].some(h => h.innerText.trim() !== 'Sign in')
              || document.querySelector('[data-testid="stAlertContentWarning"]')"""
    )
    _settle(page)


def _sign_out(page, button) -> None:
    """Sign out with ``button``, end the session at the provider, and wait for the app again."""
    button.click()
    # the app hands over to the provider's end-session page, which asks to confirm
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name=SIGN_IN_BUTTON).wait_for()
    _settle(page)


def _audit(server, action: str) -> list[tuple[str, dict]]:
    from store.audit import read_audit
    from store.db import open_store

    engine = open_store(server.env["DATABASE_URL"])
    try:
        entries = read_audit(engine=engine, action=action)
    finally:
        engine.dispose()
    return list(zip(entries["username"], entries["detail"], strict=True))


@pytest.fixture()
def page(browser, sso_server):
    """A fresh browser profile (no cookies of an earlier sign-in)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


def test_sso_the_sign_in_screen_offers_only_the_provider(page, sso_server):
    page.goto(sso_server.url)
    button = page.get_by_role("button", name=SIGN_IN_BUTTON)
    button.wait_for()
    _settle(page)
    # the secrets file is elsewhere, yet the project's config.toml still applies (its colour)
    colour = button.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(31, 95, 139)", colour
    assert page.locator('input[type="password"]').count() == 0
    assert page.locator(ERRORS).count() == 0
    screenshots_at_both_widths(page, "sso-00-sign-in")


def test_sso_a_director_by_address_lands_on_the_dashboard(page, sso_server):
    _open_provider(page, sso_server.url)
    screenshots_at_both_widths(page, "sso-01-provider-form")
    page.locator('input[name="sub"]').fill(DIRECTOR_EMAIL)
    page.get_by_role("button", name="Authorize").click()
    _back_in_the_app(page)
    assert page.locator("h1").first.inner_text().strip().startswith("Overview")
    assert _nav_labels(page) == DIRECTOR_PAGES
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert f"Signed in as {DIRECTOR_EMAIL} (director)" in sidebar.inner_text()
    assert page.locator(ERRORS).count() == 0
    screenshots_at_both_widths(page, "sso-02-director-overview")
    assert (DIRECTOR_EMAIL, {"method": "oidc", "role": "director"}) in _audit(sso_server, "login")
    # signing out ends the provider's sign-in too: the button is back
    _sign_out(
        page, page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out")
    )
    assert DIRECTOR_EMAIL in [name for name, _ in _audit(sso_server, "logout")]


def test_sso_a_clinician_by_group_sees_no_data_page(page, sso_server):
    _open_provider(page, sso_server.url)
    page.get_by_role("button", name=CLINICIAN_SUB).click()
    _back_in_the_app(page)
    labels = _nav_labels(page)
    assert "Cohorts & patients" in labels and "Overview" in labels
    assert "Data" not in labels and "Users" not in labels
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert f"Signed in as {CLINICIAN_EMAIL} (clinician)" in sidebar.inner_text()
    assert page.locator(ERRORS).count() == 0
    screenshots_at_both_widths(page, "sso-03-clinician-overview")
    entry = (CLINICIAN_EMAIL, {"method": "oidc", "role": "clinician"})
    assert entry in _audit(sso_server, "login")


def test_sso_an_account_without_a_role_is_told_so_and_sees_no_page(page, sso_server):
    _open_provider(page, sso_server.url)
    page.locator('input[name="sub"]').fill(STRANGER_EMAIL)
    page.get_by_role("button", name="Authorize").click()
    _back_in_the_app(page)
    warning = page.locator('[data-testid="stAlertContentWarning"]').inner_text()
    assert "has no role at this clinic" in warning, warning
    assert page.locator('[data-testid="stSidebarNav"] a').count() == 0
    assert page.locator(ERRORS).count() == 0
    assert "Traceback" not in page.locator('[data-testid="stApp"]').inner_text()
    screenshots_at_both_widths(page, "sso-04-no-role")
    refused = [
        detail for name, detail in _audit(sso_server, "login_failed") if name == STRANGER_EMAIL
    ]
    assert refused == [{"method": "oidc", "reason": "no role"}]
    assert STRANGER_EMAIL not in [name for name, _ in _audit(sso_server, "login")]
    # signing in again would bring back the same account: the screen offers to sign out
    assert page.get_by_role("button", name=SIGN_IN_BUTTON).count() == 0
    _sign_out(page, page.get_by_role("button", name="Sign out"))
