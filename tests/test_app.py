"""The dashboard run headless with Streamlit's AppTest: every page, filters and settings."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "app_pages/overview.py",
    "app_pages/outcomes.py",
    "app_pages/durability.py",
    "app_pages/safety.py",
    "app_pages/cohorts.py",
    "app_pages/claims.py",
    "app_pages/data.py",
    "app_pages/settings.py",
]


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
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="settings_response").set_value("pct:50")
    at.button(key="settings_apply").click().run()
    assert not at.exception
    at.switch_page("app_pages/overview.py").run()
    after = _metric(at, "Response, observed")
    assert after != before
    assert int(after.rstrip("%")) < int(before.rstrip("%"))


def test_a_bad_custom_rule_is_refused_with_the_reason(app_env):
    at = _app("app_pages/settings.py")
    at.selectbox(key="settings_response").set_value("custom")
    at.text_input(key="settings_custom_rule").set_value("pct:lots")
    at.button(key="settings_apply").click().run()
    assert not at.exception
    assert any(
        "Not applied: response rule must look like 'pct:30' or 'points:10'" in e.value
        for e in at.error
    )


def test_reset_brings_back_the_defaults(app_env):
    at = _app()
    default = _metric(at, "Response, observed")
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="settings_response").set_value("points:10")
    at.button(key="settings_apply").click().run()
    at.button(key="settings_reset").click().run()
    at.switch_page("app_pages/overview.py").run()
    assert _metric(at, "Response, observed") == default
