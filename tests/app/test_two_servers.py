"""Two app processes on one PostgreSQL database: an import through one is on the other's next page.

Each server is ``streamlit run server.py`` on a port of its own with its own disk cache; they
share nothing but the database (a fresh schema of ``TEST_DATABASE_URL``). A director signed in
to each uploads a small clinic through the first server's Data page; the second server's next
page load shows the new clinic, because every script run checks the store's data version.
"""

import re

import pytest

from analytics.sample import generate_clinic, write_clinic
from store.sample import ensure_sample
from store.users import add_user
from tests.app.app_server import AppServer, goto, metric, rerun_started, settle
from tests.store.fixtures import fresh_store, url_text

pytestmark = pytest.mark.browser

DIRECTOR = ("two-servers-director", "two-servers-password")


@pytest.fixture()
def servers(chromium_path, sample_dir, tmp_path):
    """Two running servers on one PostgreSQL store that holds the sample clinic."""
    with fresh_store("postgresql", tmp_path / "unused.sqlite") as engine:
        ensure_sample(sample_dir, engine=engine)
        add_user(*DIRECTOR, "director", actor="test", engine=engine)
        url = url_text(engine)
        pair = [AppServer(url, sample_dir) for _ in range(2)]
        for i, app in enumerate(pair):
            app.env["DASHBOARD_CACHE_DIR"] = str(tmp_path / f"cache_{i}")
        try:
            for app in pair:
                app.start()
            yield pair
        finally:
            for app in pair:
                app.stop()
        engine.dispose()


def _signed_in(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(DIRECTOR[0])
    page.get_by_label("Password", exact=True).fill(DIRECTOR[1])
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.locator('[data-testid="stMetricValue"]').first.wait_for()
    settle(page)
    return context, page


def test_an_import_through_one_server_is_on_the_others_next_page_load(
    servers, browser, sample_dir, tmp_path
):
    first, second = servers
    contexts = []
    try:
        context, one = _signed_in(browser, first.url)
        contexts.append(context)
        context, other = _signed_in(browser, second.url)
        contexts.append(context)
        sample_patients = metric(other, "Patients treated")
        assert sample_patients == metric(one, "Patients treated") == "250"

        export = tmp_path / "export"
        write_clinic(export, generate_clinic(7, seed=11))
        goto(one, "Data")
        one.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(
            sorted(str(p) for p in export.glob("*.csv"))
        )
        rerun_started(one)
        one.get_by_role("button", name=re.compile("Validate and import")).click()
        rerun_started(one)
        one.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)

        # the second server has shown the sample; its next page load finds the new version
        goto(other, "Outcomes")
        goto(other, "Overview")
        assert metric(other, "Patients treated") == "7"
        goto(one, "Overview")
        assert metric(one, "Patients treated") == "7"
    finally:
        for context in contexts:
            context.close()
