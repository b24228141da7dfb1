"""The dashboard run headless with Streamlit's AppTest: every page, filters and settings."""

from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "pages/overview.py",
    "pages/outcomes.py",
    "pages/durability.py",
    "pages/safety.py",
    "pages/cohorts.py",
    "pages/claims.py",
    "pages/data.py",
    "pages/settings.py",
]


@pytest.fixture(autouse=True)
def navigation_not_pages_folder(monkeypatch):
    """Run the router on every rerun, as `streamlit run` does.

    AppTest forgets before each run that the app called ``st.navigation`` and, seeing a
    ``pages/`` folder, falls back to the old folder-based multipage mode: later runs execute
    only the page, never the router, so the sidebar filters vanish. A real server sets the flag
    to False once ``st.navigation`` runs; this does the same from the start.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def _metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    if not found:
        raise LookupError(f"no metric {label!r}; metrics are {[m.label for m in at.metric]}")
    return found[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_sample_clinic(app_env, page):
    at = _app(page)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value  # the page drew its title


def test_sample_banner_says_synthetic(app_env):
    at = _app()
    assert any("Sample data — synthetic clinic" in i.value for i in at.info)


def test_a_route_filter_changes_the_patient_count(app_env):
    at = _app()
    before = _metric(at, "Patients treated")
    routes = at.multiselect(key="filter_routes")
    routes.set_value([routes.options[0]]).run()
    assert not at.exception
    after = _metric(at, "Patients treated")
    assert int(after.replace(",", "")) < int(before.replace(",", ""))


def test_a_stricter_response_rule_lowers_week4_response(app_env):
    at = _app()
    before = _metric(at, "Response, observed")
    at.switch_page("pages/settings.py").run()
    at.selectbox(key="settings_response").set_value("pct:50")
    at.button(key="settings_apply").click().run()
    assert not at.exception
    at.switch_page("pages/overview.py").run()
    after = _metric(at, "Response, observed")
    assert after != before
    assert int(after.rstrip("%")) < int(before.rstrip("%"))
