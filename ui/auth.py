"""Who is signed in, and what they may see.

Two ways in:

- **password** (the default): the store's users, Argon2id hashes and lockout
  (``store.users.login``); the session lives in ``st.session_state`` and expires after
  ``SESSION_TTL_MINUTES`` without activity.
- **the clinic's identity provider**: when ``.streamlit/secrets.toml`` has an ``[auth]``
  section, Streamlit's OIDC login (``st.login``/``st.user``) replaces the password form, and the
  role comes from the ``[roles]`` table of the same file (:func:`role_for_identity`).

Every sign-in, failure, sign-out, expiry and download is written to the audit log with the user
name and never with a password or a patient identifier.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from ui import startup

__all__ = [
    "ROLE_ORDER",
    "audit",
    "audited_download",
    "current_user",
    "oidc_configured",
    "render_login",
    "render_account",
    "require_page",
    "role_for_identity",
    "role_map_from_secrets",
    "run_user",
]

SESSION_KEY = "auth_session"
NOTICE_KEY = "auth_notice"
RUN_USER_KEY = "auth_run_user"
OIDC_SEEN_KEY = "auth_oidc_seen"
# Most privileged first: a person in several mapped groups gets the first role that matches.
ROLE_ORDER = ("director", "clinician", "staff")


# --------------------------------------------------------------------------- audit helpers
def audit(action: str, **detail: Any) -> None:
    """Record ``action`` by the user of this run (counts, names and ids only: no PHI)."""
    from store import record_audit

    record_audit(action, user=st.session_state.get(RUN_USER_KEY), detail=detail)


def _record_download(file_name: str, rows: int) -> None:
    audit("download", file=file_name, rows=rows)


def audited_download(label: str, payload: bytes, *, file_name: str, rows: int, **kwargs) -> None:
    """``st.download_button`` whose click is recorded in the audit log (file name and rows)."""
    st.download_button(
        label,
        payload,
        file_name=file_name,
        on_click=functools.partial(_record_download, file_name, int(rows)),
        **kwargs,
    )


# --------------------------------------------------------------------------- single sign-on
def oidc_configured() -> bool:
    """True when ``secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC login)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all (StreamlitSecretNotFoundError)
        return False


def role_for_identity(claims: Mapping[str, Any], role_map: Mapping[str, str]) -> str | None:
    """The role of a person signed in through the identity provider, or None (no access).

    Parameters
    ----------
    claims : mapping
        The provider's claims (``st.user``): ``email``, optionally ``email_verified`` and
        ``groups`` (a list of names or one name).
    role_map : mapping of str to str
        Keys are an e-mail address (``"ana@clinic.org"``), a group (``"group:psychiatry"``) or
        a whole domain (``"@clinic.org"``); values are ``director``, ``clinician`` or ``staff``.

    Returns
    -------
    str or None
        An exact e-mail entry wins; then the most privileged role among the person's groups;
        then the domain. An address the provider marks unverified matches no e-mail or domain
        entry. None when nothing matches: an unmapped identity sees no page.

    Raises
    ------
    ValueError
        When the map names a role that does not exist.
    """
    normalised: dict[str, str] = {}
    for key, role in role_map.items():
        if role not in ROLE_ORDER:
            raise ValueError(
                f"role map entry {key!r} names unknown role {role!r}; roles: "
                + ", ".join(ROLE_ORDER)
            )
        normalised[str(key).strip().lower()] = role
    email = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified", True) is not False
    if email and verified and email in normalised:
        return normalised[email]
    groups = claims.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    matched = {normalised.get(f"group:{str(g).strip().lower()}") for g in groups}
    for role in ROLE_ORDER:
        if role in matched:
            return role
    if email and verified and "@" in email:
        return normalised.get("@" + email.rsplit("@", 1)[1])
    return None


def role_map_from_secrets() -> dict[str, str]:
    """The ``[roles]`` table of ``secrets.toml`` (empty when there is none)."""
    try:
        return {str(k): str(v) for k, v in st.secrets.get("roles", {}).items()}
    except FileNotFoundError:
        return {}


def _oidc_user():
    from store import User

    if not st.user.get("is_logged_in", False):
        return None
    claims = st.user.to_dict()
    role = role_for_identity(claims, role_map_from_secrets())
    name = str(claims.get("email") or claims.get("sub") or "unknown")
    if role is None:
        st.session_state[NOTICE_KEY] = (
            f"{name} signed in, but no role is mapped to this account. Ask the clinic's "
            "director to add it to the [roles] table."
        )
        return None
    return User(name, role)


# --------------------------------------------------------------------------- the signed-in user
def _still_exists(user):
    """The user with their current role, or None once a director removed them."""
    from store.users import list_users

    users = list_users()
    match = users.loc[users["username"] == user.username, "role"]
    if match.empty:
        return None
    return user if match.iloc[0] == user.role else type(user)(user.username, str(match.iloc[0]))


def current_user():
    """The signed-in :class:`store.User` of this browser session, or None.

    A session past its expiry is ended (and audited); each run moves the expiry forward. The
    role is read from the database on each run, so a change by the director applies at once.
    """
    if oidc_configured():
        user = _oidc_user()
        if user is None:
            return None
        startup.wait()
        from store import start_session

        session = st.session_state.get(SESSION_KEY)
        if session is None or session.user != user:
            st.session_state[SESSION_KEY] = start_session(user)
            st.session_state[RUN_USER_KEY] = user
            audit("login", method="oidc", role=user.role)
            return user
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        return None
    startup.wait()
    if session.expired():
        st.session_state.pop(SESSION_KEY, None)
        from store import record_audit

        record_audit("session_expired", user=session.user)
        st.session_state[NOTICE_KEY] = "Your session expired after a while without activity."
        if oidc_configured():
            st.logout()
        return None
    user = session.user if oidc_configured() else _still_exists(session.user)
    if user is None:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[NOTICE_KEY] = "This account no longer exists."
        return None
    st.session_state[SESSION_KEY] = type(session)(user, session.started_at, session.expires_at)
    st.session_state[SESSION_KEY] = st.session_state[SESSION_KEY].touched()
    return user


def run_user():
    """The user the router signed in for this run (None on the sign-in page)."""
    return st.session_state.get(RUN_USER_KEY)


def require_page(page: str):
    """Stop the page unless the signed-in role may see ``page`` (a direct URL is refused)."""
    from store import allowed_pages

    user = run_user()
    if user is None or page not in allowed_pages(user.role):
        st.error(
            "This page is not available to your account.",
            icon=":material/block:",
        )
        st.stop()
    return user


# --------------------------------------------------------------------------- screens
def _locked_message(until: datetime) -> str:
    now = datetime.now(UTC)
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    seconds = max(1, round((until - now).total_seconds()))
    wait = f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"
    return (
        "Too many failed sign-ins in a row: this account is locked for now. Try again in "
        f"{wait} (at {until:%H:%M:%S} UTC); each further failure doubles the wait."
    )


def render_login(first_start: bool = False) -> None:
    """The sign-in screen: the password form, or the identity provider's button."""
    st.title("Sign in")
    st.caption("Ketamine & esketamine outcomes: the clinic's dashboard.")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(notice, icon=":material/info:")
    if oidc_configured():
        st.button(
            "Sign in with the clinic's account",
            type="primary",
            icon=":material/login:",
            on_click=st.login,
            key="login_oidc",
        )
        startup.begin()
        return
    first_start_notice = st.empty()
    if first_start:
        _first_start_notice(first_start_notice)
    with st.form("login_form", clear_on_submit=True, width=420):
        username = st.text_input("User name", key="login_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="login_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(
            "Sign in", type="primary", icon=":material/login:", key="login_submit"
        )
    if not submitted:
        startup.begin()  # after the form: the form's own run does not share the processor
        if not first_start and startup.wait():
            # the form is already on screen; the notice joins it when the database is ready
            _first_start_notice(first_start_notice)
        return
    startup.wait()
    from store import login, start_session

    result = login(username, password)
    if result.ok:
        st.session_state[SESSION_KEY] = start_session(result.user)
        st.rerun()
    if result.locked_until is not None:
        st.error(_locked_message(result.locked_until), icon=":material/lock_clock:")
    else:
        st.error("Wrong user name or password.", icon=":material/error:")


def _first_start_notice(slot) -> None:
    slot.info(
        "First start: the director account `director` was created, and its one-time "
        "password was printed in the terminal that started the dashboard.",
        icon=":material/key:",
    )


def _sign_out() -> None:
    session = st.session_state.pop(SESSION_KEY, None)
    if session is not None:
        audit("logout")
    st.session_state.pop(RUN_USER_KEY, None)
    if oidc_configured():
        st.logout()


def render_account(user) -> None:
    """Who is signed in, and the sign-out button, at the top of the sidebar."""
    st.sidebar.caption(f":material/person: Signed in as **{user.username}** ({user.role})")
    st.sidebar.button(
        "Sign out", key="sign_out", on_click=_sign_out, icon=":material/logout:", width="stretch"
    )
