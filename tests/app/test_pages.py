"""The dashboard run headless with Streamlit's AppTest: sign-in, roles, every page, the store."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import TEST_USERS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "app_pages/overview.py",
    "app_pages/outcomes.py",
    "app_pages/durability.py",
    "app_pages/safety.py",
    "app_pages/cohorts.py",
    "app_pages/claims.py",
    "app_pages/data.py",
    "app_pages/settings.py",
    "app_pages/imports.py",
    "app_pages/audit.py",
    "app_pages/users.py",
]


def _signed_out() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    return at


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


def signed_in_app(page: str | None = None, role: str = "director") -> AppTest:
    at = _sign_in(_signed_out(), *TEST_USERS[role])
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def _metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    if not found:
        raise LookupError(f"no metric {label!r}; metrics are {[m.label for m in at.metric]}")
    return found[0]


def _audit(**filters):
    from store import read_audit

    return read_audit(**filters)


# --------------------------------------------------------------------------- pages
@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_for_the_director(app_env, page):
    at = signed_in_app(page)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value  # the page drew its title


# Words of a method, its source or its code that belong in "How this is computed", not on the
# main screen of a dashboard page; and word bugs seen there before.
METHOD_WORDS = re.compile(
    r"\bdoi\b|t-based|Jacobson|log-log|Wilson|Greenwood|Student's t|\b1 events\b|CI open|\bCi:"
    r"|\b[a-z0-9]+_[a-z0-9_]+\b",  # a code name (side_effects.csv, latest_day)
    re.IGNORECASE,
)
DASHBOARD_PAGES = PAGES[:6]  # overview to claims


def _main_screen_words(at: AppTest) -> list[str]:
    """The captions and body text of the page, leaving out what is inside an expander."""
    inside = {id(e) for x in at.main.expander for e in [*x.caption, *x.markdown]}
    shown = [*at.main.caption, *at.main.markdown]
    # a material icon's name is a code the reader never sees
    return [re.sub(r":material/[a-z_]+:", "", e.value) for e in shown if id(e) not in inside]


@pytest.mark.parametrize("page", DASHBOARD_PAGES)
def test_a_dashboard_page_keeps_method_words_out_of_its_main_screen(app_env, page):
    at = signed_in_app(page)
    assert not at.exception, [e.message for e in at.exception]
    found = [text for text in _main_screen_words(at) if METHOD_WORDS.search(text)]
    assert found == []
    # and each section that has a method says it a click away
    assert any(x.label == "How this is computed" for x in at.main.expander)


def test_sample_banner_says_synthetic(app_env):
    at = signed_in_app()
    assert any("Sample data — synthetic clinic" in i.value for i in at.info)


def test_a_route_filter_changes_the_patient_count(app_env):
    at = signed_in_app()
    before = _metric(at, "Patients treated")
    routes = at.multiselect(key="filter_routes")
    routes.set_value([routes.options[0]]).run()
    assert not at.exception
    after = _metric(at, "Patients treated")
    assert int(after.replace(",", "")) < int(before.replace(",", ""))


def test_a_stricter_response_rule_lowers_week4_response(app_env):
    at = signed_in_app()
    before = _metric(at, "Response, observed")
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="settings_response").set_value("pct:50")
    at.button(key="settings_apply").click().run()
    assert not at.exception
    at.switch_page("app_pages/overview.py").run()
    after = _metric(at, "Response, observed")
    assert after != before
    assert int(after.rstrip("%")) < int(before.rstrip("%"))
    # the change is in the audit log, with the rule chosen
    entry = _audit(action="settings_changed").iloc[0]
    assert entry["username"] == TEST_USERS["director"][0]
    assert entry["detail"]["response"] == "pct:50"


def test_a_bad_custom_rule_is_refused_with_the_reason(app_env):
    at = signed_in_app("app_pages/settings.py")
    at.selectbox(key="settings_response").set_value("custom")
    at.text_input(key="settings_custom_rule").set_value("pct:lots")
    at.button(key="settings_apply").click().run()
    assert not at.exception
    assert any(
        "Not applied: response rule must look like 'pct:30' or 'points:10'" in e.value
        for e in at.error
    )


def test_the_kaplan_meier_band_is_a_setting_printed_with_every_median(app_env):
    at = signed_in_app("app_pages/durability.py")
    captions = " ".join(c.value for c in at.caption)
    assert "log-log method" in captions
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="settings_km_band").set_value("log")
    at.number_input(key="settings_min_patients").set_value(20)
    at.button(key="settings_apply").click().run()
    assert not at.exception
    entry = _audit(action="settings_changed").iloc[0]
    assert (entry["detail"]["km_band"], entry["detail"]["min_patients"]) == ("log", 20)
    at.switch_page("app_pages/durability.py").run()
    captions = " ".join(c.value for c in at.caption)
    assert "log method" in captions and "log-log method" not in captions


def test_outcomes_says_how_many_were_not_yet_due(app_env):
    at = signed_in_app("app_pages/outcomes.py")
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    # The sample: 44 patients started too recently to be due at week 24 (see test_sample.py).
    assert "Not yet due" in captions and "44 at week 24" in captions


def test_reset_brings_back_the_defaults(app_env):
    at = signed_in_app()
    default = _metric(at, "Response, observed")
    at.switch_page("app_pages/settings.py").run()
    at.selectbox(key="settings_response").set_value("points:10")
    at.button(key="settings_apply").click().run()
    at.button(key="settings_reset").click().run()
    at.switch_page("app_pages/overview.py").run()
    assert _metric(at, "Response, observed") == default


# --------------------------------------------------------------------------- claims check
# The sample clinic's 24-hour claim is the case the verdict must not call supported: a
# 10.5-point mean fall with 51/175 = 29% responding. Its week-4 claim is supported (a 16.6-point
# fall, 86/148 = 58% responding). Green is for a supported claim only.
CLAIMS_VERDICTS = [
    (
        "within_24h",
        ":orange-badge[:material/contrast: Partly supported]",
        "but only 29% of the 175",
    ),
    (
        "persisted_to_week_4",
        ":green-badge[:material/check_circle: Supported]",
        "and 58% of the 148",
    ),
]


def test_claims_check_shows_each_verdict_with_its_reason_and_rule(app_env):
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.ingest.importer import import_folder
    from analytics.metrics.claims import claims_summary

    defs = OutcomeDefinitions.for_instrument("PCL-5")
    summary = claims_summary(import_folder(app_env).data, defs)
    at = signed_in_app("app_pages/claims.py")
    assert not at.exception, [e.message for e in at.exception]
    markdown = [m.value for m in at.markdown]
    captions = [c.value for c in at.caption]
    for claim, badge, words in CLAIMS_VERDICTS:
        check = summary[claim]
        # the badge, then the reason, then the rule, in body text beside the numbers
        at_badge = markdown.index(badge)
        assert markdown[at_badge + 1] == f"**{check['verdict_reason']}**"
        assert words in check["verdict_reason"]
        assert markdown[at_badge + 2] == f"**The rule.** {check['rule']}"
        assert not any(check["rule"] in caption for caption in captions)
        assert f"{check['change_ci_low']:+.1f} to {check['change_ci_high']:+.1f}" in "".join(
            captions
        )
    assert sum("green-badge" in m for m in markdown) == 1


# --------------------------------------------------------------------------- sign-in
def test_signed_out_sees_only_the_sign_in_form(app_env):
    at = _signed_out()
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.metric


@pytest.mark.parametrize(
    "username, password, logged_as",
    [
        ("director-test", "not-the-password", "director-test"),  # wrong password
        # an unknown name is not logged: it may be a password typed into the wrong box
        ("nobody", "director-password", None),
    ],
)
def test_a_wrong_password_is_refused_and_audited(app_env, username, password, logged_as):
    at = _sign_in(_signed_out(), username, password)
    assert [t.value for t in at.title] == ["Sign in"]
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    failed = _audit(action="login_failed")
    assert len(failed) == 1
    logged = failed["username"].iloc[0]
    assert (None if logged is pd.NA else logged) == logged_as


def test_five_failures_lock_the_account_with_a_message(app_env):
    at = _signed_out()
    for _ in range(4):
        _sign_in(at, "clinician-test", "wrong-password")
        assert [e.value for e in at.error] == ["Wrong user name or password."]
    # store.config.LockoutPolicy: the 5th consecutive failure locks for 30 s
    _sign_in(at, "clinician-test", "wrong-password")
    assert "Wrong user name or password. Try again in" in at.error[0].value
    # 30 s from the failure, counted down by the time the message is drawn (a loaded machine)
    assert re.search(r"Try again in (2\d|30) seconds", at.error[0].value)
    # the right password is refused while locked, with the same message
    _sign_in(at, *TEST_USERS["clinician"])
    assert [t.value for t in at.title] == ["Sign in"]
    assert "Wrong user name or password. Try again in" in at.error[0].value
    assert len(_audit(action="login_locked")) == 1


def test_sign_in_and_out_are_audited(app_env):
    at = signed_in_app()
    assert at.title[0].value == "Overview"
    at.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in"]
    actions = _audit(username=TEST_USERS["director"][0])["action"].tolist()
    assert actions[:2] == ["logout", "login"]  # newest first


def test_an_expired_session_asks_to_sign_in_again(app_env):
    at = signed_in_app()
    session = at.session_state["auth_session"]
    past = datetime.now(UTC) - timedelta(minutes=1)
    at.session_state["auth_session"] = type(session)(session.user, session.started_at, past)
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]
    assert any("session expired" in w.value for w in at.warning)
    assert len(_audit(action="session_expired")) == 1


# --------------------------------------------------------------------------- roles
@pytest.mark.parametrize(
    "role, reachable, refused",
    [
        ("clinician", "app_pages/cohorts.py", "app_pages/data.py"),
        ("clinician", "app_pages/overview.py", "app_pages/imports.py"),
        ("staff", "app_pages/data.py", "app_pages/overview.py"),
        ("staff", "app_pages/data.py", "app_pages/users.py"),
    ],
)
def test_a_role_cannot_reach_other_pages(app_env, role, reachable, refused):
    at = signed_in_app(reachable, role)
    assert not at.exception and not at.error
    # not given to st.navigation: not listed, and no URL leads to it
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(refused)


def test_staff_lands_on_the_data_page_without_cohort_filters(app_env):
    at = signed_in_app(role="staff")
    assert at.title[0].value == "Data"
    assert not at.multiselect  # no cohort filters: staff see no outcomes
    assert not any(b.key == "clear_sample" for b in at.button)


def test_a_page_refuses_a_role_that_reaches_it_directly(app_env):
    # the page's own check, for a run that bypasses the navigation
    at = AppTest.from_file(str(ROOT / "app_pages" / "imports.py"), default_timeout=60)
    from store import User

    at.session_state["auth_run_user"] = User("clinician-test", "clinician")
    at.run()
    assert [e.value for e in at.error] == ["This page is not available to your account."]
    assert not at.title


# --------------------------------------------------------------------------- store wiring
def test_clearing_the_sample_empties_the_dashboard(app_env):
    at = signed_in_app()
    at.button(key="clear_sample").click().run()
    assert not at.exception
    assert not any("Sample data" in i.value for i in at.info)
    assert any("The database holds no patients" in w.value for w in at.warning)
    assert len(_audit(action="sample_cleared")) == 1


def test_an_import_replaces_the_sample_and_shows_in_the_history(app_env, tmp_path):
    from analytics.sample import generate_clinic, write_clinic
    from store import import_upload, list_batches

    at = signed_in_app()
    assert _metric(at, "Patients treated") == "250"
    write_clinic(tmp_path, generate_clinic(7, seed=11))
    files = {p.name: p.read_bytes() for p in sorted(tmp_path.glob("*.csv"))}
    result = import_upload(files, "staff-test")
    assert result.ok
    at.run()  # the next run reads the new data version
    assert _metric(at, "Patients treated") == "7"
    assert not any("Sample data" in i.value for i in at.info)
    at.switch_page("app_pages/imports.py").run()
    assert not at.exception and not at.error
    history = list_batches()
    assert history["kind"].tolist() == ["import", "sample"]
    assert history["status"].tolist() == ["active", "rolled_back"]


def test_a_conflict_is_replaced_from_the_history_page(conflicting_upload):
    from store import import_upload, list_conflicts

    files = conflicting_upload
    second = import_upload(files, "staff-test")
    assert second.conflicts == 1
    at = signed_in_app("app_pages/imports.py")
    assert not at.exception and not at.error
    at.button(key="conflicts_replace_all").click().run()
    assert not at.exception
    assert any("1 replaced, 0 kept." in s.value for s in at.success)
    assert list_conflicts(second.batch_id)["status"].tolist() == ["replaced"]


def test_a_rollback_needs_the_confirmation(app_env, tmp_path):
    from analytics.sample import generate_clinic, write_clinic
    from store import import_upload, list_batches

    write_clinic(tmp_path, generate_clinic(4, seed=5))
    files = {p.name: p.read_bytes() for p in sorted(tmp_path.glob("*.csv"))}
    batch = import_upload(files, "staff-test").batch_id
    at = signed_in_app("app_pages/imports.py")
    assert at.selectbox(key="imports_batch").value == batch
    assert at.button(key="rollback_button").disabled
    at.checkbox(key=f"rollback_confirm_{batch}").check().run()
    at.button(key="rollback_button").click().run()
    assert not at.exception and not at.error
    assert any(f"Batch {batch} rolled back" in s.value for s in at.success)
    assert list_batches().set_index("batch_id").loc[batch, "status"] == "rolled_back"
    assert _audit(action="rollback")["username"].tolist() == ["director-test"]


def test_the_director_adds_a_user_who_can_sign_in(app_env):
    at = signed_in_app("app_pages/users.py")
    at.text_input(key="users_new_name").input("new-clinician")
    at.selectbox(key="users_new_role").set_value("clinician")
    at.button(key="FormSubmitter:add_user-Add").click().run()
    assert not at.exception and not at.error
    password = at.code[0].value  # shown once
    assert len(password) == 24
    assert _audit(action="user_added")["detail"].iloc[0] == {
        "username": "new-clinician",
        "role": "clinician",
    }
    at.run()
    assert not at.code  # gone on the next run
    fresh = _sign_in(_signed_out(), "new-clinician", password)
    assert fresh.title[0].value == "Overview"


def test_the_audit_page_filters_by_event(app_env):
    at = signed_in_app("app_pages/audit.py")
    at.selectbox(key="audit_action").set_value("login").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert set(table["Event"]) == {"Signed in"}
    assert set(table["User"]) == {"director-test"}


# --------------------------------------------------------------------------- single sign-on
# Streamlit's OIDC login cannot run here without an identity provider; the role mapping that
# follows it is tested on its own.
ROLE_MAP = {
    "Ana@Clinic.org": "director",
    "bo@clinic.org": "staff",
    "group:psychiatry": "clinician",
    "group:leads": "director",
    "@clinic.org": "staff",
}


@pytest.mark.parametrize(
    "claims, expected",
    [
        # an exact e-mail entry, compared without case
        ({"email": "ana@clinic.org"}, "director"),
        # the exact e-mail wins over a group
        ({"email": "bo@clinic.org", "groups": ["psychiatry"]}, "staff"),
        # the most privileged of the person's groups
        ({"email": "cy@other.org", "groups": ["psychiatry", "leads"]}, "director"),
        ({"email": "cy@other.org", "groups": "psychiatry"}, "clinician"),
        # the domain when nothing else matches
        ({"email": "dee@clinic.org"}, "staff"),
        # an unverified address matches neither e-mail nor domain
        ({"email": "ana@clinic.org", "email_verified": False}, None),
        # unmapped: no page at all
        ({"email": "eve@elsewhere.org"}, None),
        ({}, None),
    ],
)
def test_role_for_identity(claims, expected):
    from ui.auth import role_for_identity

    assert role_for_identity(claims, ROLE_MAP) == expected


def test_role_map_refuses_an_unknown_role():
    from ui.auth import role_for_identity

    with pytest.raises(ValueError, match="role map entry 'x@y.org' names unknown role 'admin'"):
        role_for_identity({"email": "x@y.org"}, {"x@y.org": "admin"})


def test_without_secrets_the_password_form_is_used(app_env):
    at = _signed_out()
    assert at.text_input(key="login_password")
    assert not any(b.key == "login_oidc" for b in at.button)


@pytest.mark.parametrize(
    "page", ["app_pages/overview.py", "app_pages/cohorts.py", "app_pages/durability.py"]
)
def test_custom_windows_without_week_2_or_4_still_draw_the_page(app_env, page):
    at = signed_in_app()
    # one window only: the headline, the funnel's scored step and the week-2 rule are absent
    at.session_state["clinic_settings"] = {"windows": [["week 3", 21, 18, 24]]}
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    notes = " ".join(i.value for i in at.info)
    if page.endswith("overview.py"):
        assert "No week-4 timepoint" in notes
    if page.endswith("cohorts.py"):
        assert "needs the week-4 window" in notes
