"""Who is signed in, and what they may see.

Two ways in:

- **password** (the default): the store's users, Argon2id hashes and a sign-in throttle per
  name and client address (``store.users.login``). The session is stored (``store.sessions``:
  only the hash of its random token) and lives in ``st.session_state``; it expires after
  ``SESSION_TTL_MINUTES`` without activity. When the app runs through ``server.py``, the browser
  keeps the token in an HttpOnly cookie, so a reload or a new tab is still signed in
  (:func:`current_user` resumes it); sign-out revokes it and clears the cookie.
- **the clinic's identity provider**: when ``.streamlit/secrets.toml`` has an ``[auth]``
  section, Streamlit's OIDC login (``st.login``/``st.user``) replaces the password form, and the
  role comes from the ``[roles]`` table of the same file (:func:`role_for_identity`).

Every sign-in, failure, sign-out, expiry, resumed session and download is written to the audit
log with the user name and never with a password, a token or a patient identifier.

How the token reaches the cookie without page JavaScript ever reading the cookie: after a
sign-in the server keeps a one-time *ticket* for 60 seconds (only its hash, in this process's
memory) and the page runs a few lines that POST the ticket to :data:`COOKIE_ROUTE`; that route
(``server.py``) exchanges it for ``Set-Cookie: ...; HttpOnly; SameSite=Strict``. The ticket is
useless once used or after a minute, and the token itself never appears in the page.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from ui import startup

__all__ = [
    "COOKIE_NAME",
    "COOKIE_ROUTE",
    "ROLE_ORDER",
    "TICKET_SECONDS",
    "audit",
    "audited_download",
    "client_address",
    "cookie_routes_enabled",
    "current_user",
    "enable_cookie_routes",
    "issue_cookie_ticket",
    "oidc_configured",
    "redeem_cookie_ticket",
    "render_account",
    "render_cookie_script",
    "render_login",
    "render_unavailable",
    "require_page",
    "role_for_identity",
    "role_map_from_secrets",
    "run_user",
    "sign_in_failed_message",
    "unavailable_message",
]

SESSION_KEY = "auth_session"
NOTICE_KEY = "auth_notice"
RUN_USER_KEY = "auth_run_user"
OIDC_SEEN_KEY = "auth_oidc_seen"
COOKIE_ACTION_KEY = "auth_cookie_action"  # ("set", ticket) or ("clear", None), for the next draw
COOKIE_TRIED_KEY = "auth_cookie_tried"  # hash of the cookie this browser session already tried
COOKIE_NAME = "clinic_session"
COOKIE_ROUTE = "/api/session"  # POST a ticket: the cookie is set; DELETE: revoked and cleared
TICKET_SECONDS = 60
# Most privileged first: a person in several mapped groups gets the first role that matches.
ROLE_ORDER = ("director", "clinician", "staff")


# --------------------------------------------------------------------------- audit helpers
def audit(action: str, **detail: Any) -> None:
    """Record ``action`` by the user of this run (counts, names and ids only: no PHI)."""
    from store import record_audit

    record_audit(action, user=st.session_state.get(RUN_USER_KEY), detail=detail)


def _record_download(file_name: str, rows: int, action: str, detail: dict) -> None:
    audit(action, file=file_name, rows=rows, **detail)


def audited_download(
    label: str,
    payload: bytes | Callable[[], bytes],
    *,
    file_name: str,
    rows: int,
    action: str = "download",
    detail: dict | None = None,
    **kwargs,
) -> None:
    """``st.download_button`` whose click is recorded in the audit log (file name and rows).

    ``payload`` may be a function of no arguments: Streamlit then builds the file only when
    the button is clicked. ``action`` ("download", or "export" for what leaves the clinic: a
    report, a per-patient export) and ``detail`` (the cohort in words, suppression on or off;
    never patient rows) go into the log entry too."""
    st.download_button(
        label,
        payload,
        file_name=file_name,
        on_click=functools.partial(
            _record_download, file_name, int(rows), action, dict(detail or {})
        ),
        **kwargs,
    )


# --------------------------------------------------------------------------- the session cookie
_COOKIE_ROUTES = threading.Event()  # set by server.py, which serves COOKIE_ROUTE
_TICKETS: dict[str, tuple[str, float]] = {}  # hash of a ticket -> (token, monotonic deadline)
_TICKETS_LOCK = threading.Lock()


def enable_cookie_routes() -> None:
    """Say that :data:`COOKIE_ROUTE` is served (``server.py`` calls this when it is imported).

    Under a plain ``streamlit run dashboard.py`` (and in AppTest) there is no such route: the
    session then lasts as long as the browser tab.
    """
    _COOKIE_ROUTES.set()


def disable_cookie_routes() -> None:
    """Undo :func:`enable_cookie_routes` (a test that imported ``server.py`` puts it back)."""
    _COOKIE_ROUTES.clear()


def pending_ticket_keys() -> frozenset[str]:
    """What the server keeps of the tickets not yet redeemed: their hashes, never a ticket."""
    with _TICKETS_LOCK:
        return frozenset(_TICKETS)


def cookie_routes_enabled() -> bool:
    """True when the app runs through ``server.py``, so a sign-in can set the cookie."""
    return _COOKIE_ROUTES.is_set()


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def issue_cookie_ticket(token: str, *, now: float | None = None) -> str:
    """A one-time ticket, valid :data:`TICKET_SECONDS`, that :func:`redeem_cookie_ticket`
    exchanges for ``token``. Only the ticket's hash is kept; expired tickets are dropped here."""
    now = time.monotonic() if now is None else now
    ticket = secrets.token_urlsafe(32)
    with _TICKETS_LOCK:
        for key in [k for k, (_, deadline) in _TICKETS.items() if deadline <= now]:
            del _TICKETS[key]
        _TICKETS[_ticket_hash(ticket)] = (token, now + TICKET_SECONDS)
    return ticket


def redeem_cookie_ticket(ticket: str, *, now: float | None = None) -> str | None:
    """The token of ``ticket``, once: None when it is unknown, used or older than a minute."""
    now = time.monotonic() if now is None else now
    with _TICKETS_LOCK:
        entry = _TICKETS.pop(_ticket_hash(ticket or ""), None)
    if entry is None or entry[1] <= now:
        return None
    return entry[0]


def _cookie_token() -> str | None:
    """The session cookie this browser sent when the tab connected (None outside a browser)."""
    try:
        token = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # no browser connection: bare mode
        return None
    # AppTest's context is a stand-in whose values are not text
    return token if isinstance(token, str) and token else None


def _resume_from_cookie():
    """The stored session of this browser's cookie, tried once per browser session, or None."""
    if oidc_configured():
        return None
    token = _cookie_token()
    if token is None:
        return None
    tried = _ticket_hash(token)  # any one-way digest will do to recognise it
    if st.session_state.get(COOKIE_TRIED_KEY) == tried:
        return None
    st.session_state[COOKIE_TRIED_KEY] = tried
    startup.wait()
    from store import record_audit, resume_session

    session = resume_session(token)
    if session is None:
        # revoked or expired: the browser should not keep sending it
        if cookie_routes_enabled():
            st.session_state[COOKIE_ACTION_KEY] = ("clear", None)
        return None
    st.session_state[SESSION_KEY] = session
    record_audit("session_resumed", user=session.user, detail={"role": session.user.role})
    return session


def render_cookie_script(container=None) -> None:
    """Run the pending cookie step of this browser session, if any, in ``container``.

    After a sign-in: POST the one-time ticket to :data:`COOKIE_ROUTE` (the response sets the
    HttpOnly cookie). After a sign-out or a refused cookie: DELETE it there. The script holds
    the ticket, never the token.
    """
    action = st.session_state.pop(COOKIE_ACTION_KEY, None)
    if action is None or not cookie_routes_enabled():
        return
    kind, ticket = action
    if kind == "set":
        request = {
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ticket": ticket}),
        }
    else:
        request = {"method": "DELETE"}
    request["credentials"] = "same-origin"
    script = (
        f"<script>fetch({json.dumps(COOKIE_ROUTE)}, {json.dumps(request)})"
        ".catch(() => {});</script>"
    )
    (container or st).html(script, unsafe_allow_javascript=True, width="content")


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
    """The person signed in at the identity provider as a :class:`store.User`, or None.

    None when nobody is signed in there, or when the account maps to no role: the sign-in
    screen then says so, and the refusal is audited once per browser session.
    """
    from store import User

    if not st.user.get("is_logged_in", False):
        return None
    claims = st.user.to_dict()
    role = role_for_identity(claims, role_map_from_secrets())
    name = str(claims.get("email") or claims.get("sub") or "unknown")
    if role is None:
        st.session_state[NOTICE_KEY] = (
            f"You are signed in as {name}, but this account has no role at this clinic, so no "
            "page of the dashboard is open to it. Ask the clinic's director to give it a role, "
            "or sign out and sign in with another account."
        )
        # every rerun comes here: write the refusal to the audit log once
        if st.session_state.get(OIDC_SEEN_KEY) != name:
            st.session_state[OIDC_SEEN_KEY] = name
            startup.wait()
            from store import record_audit

            record_audit("login_failed", user=name, detail={"method": "oidc", "reason": "no role"})
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

    A new browser session (a reload, a new tab) is signed in by its session cookie when the
    stored session is still valid (audited as ``session_resumed``). A session past its expiry
    is ended (and audited); each run moves the expiry forward (the stored one at most once a
    minute). The role is read from the database on each run, so a change by the director
    applies at once; a session revoked elsewhere (signed out in another tab, the account
    removed) ends at the next run.
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
    session = st.session_state.get(SESSION_KEY) or _resume_from_cookie()
    if session is None:
        return None
    startup.wait()
    if session.expired():
        st.session_state.pop(SESSION_KEY, None)
        from store import record_audit

        if session.token_hash is not None:
            from store import revoke_session

            revoke_session(session.token_hash)
            if cookie_routes_enabled():
                st.session_state[COOKIE_ACTION_KEY] = ("clear", None)
        record_audit("session_expired", user=session.user)
        st.session_state[NOTICE_KEY] = "Your session expired after a while without activity."
        if oidc_configured():
            st.logout()
        return None
    if oidc_configured():
        user = session.user
    elif session.token_hash is not None:
        from store import session_user

        user = session_user(session.token_hash)
    else:
        user = _still_exists(session.user)
    if user is None:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[NOTICE_KEY] = (
            "You were signed out: this session ended in another tab, or the account was removed."
        )
        return None
    from store import touch_session

    touched = touch_session(replace(session, user=user))
    if touched is None:  # revoked between the two queries
        st.session_state.pop(SESSION_KEY, None)
        return None
    st.session_state[SESSION_KEY] = touched
    return user


def run_user():
    """The user the router signed in for this run (None on the sign-in page)."""
    return st.session_state.get(RUN_USER_KEY)


def unavailable_message(title: str, role: str) -> str:
    """The note on a page the role may not see, opened by its URL."""
    return f"The {title} page is not available to the {role} role."


def render_unavailable(title: str) -> None:
    """A page the signed-in role may not see: say so, and offer the role's pages instead."""
    user = run_user()
    st.title(title)
    st.info(
        unavailable_message(title, user.role if user else "signed-out")
        + " The menu on the left lists the pages you can open; ask the clinic's director if "
        "you need this one.",
        icon=":material/block:",
    )


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
WRONG_SIGN_IN = "Wrong user name or password."


def sign_in_failed_message(retry_at: datetime | None, now: datetime | None = None) -> str:
    """What a refused sign-in says: the same words for a wrong password and an unknown name.

    ``retry_at`` (:attr:`store.users.LoginResult.retry_at`) adds when this browser may try
    again after repeated failures; it is set alike for names that exist and names that do not,
    so the message never tells which names exist.
    """
    if retry_at is None:
        return WRONG_SIGN_IN
    now = now or datetime.now(UTC)
    retry_at = retry_at if retry_at.tzinfo else retry_at.replace(tzinfo=UTC)
    seconds = max(1, round((retry_at - now).total_seconds()))
    if seconds < 120:
        wait = "1 second" if seconds == 1 else f"{seconds} seconds"
    else:
        wait = f"{round(seconds / 60)} minutes"
    return f"{WRONG_SIGN_IN} Try again in {wait}."


def client_address() -> str:
    """The address this browser connects from, or "local" (on this computer, or unknown).

    Failed sign-ins are counted per name and address, so a wrong password typed elsewhere
    never makes this browser wait.
    """
    try:
        address = st.context.ip_address
    except Exception:  # no browser connection: bare mode
        return "local"
    # None for a connection from this computer; AppTest's stand-in is not text
    return address if isinstance(address, str) and address else "local"


def render_login() -> None:
    """The sign-in screen: the password form, or the identity provider's button.

    The first-start notice (the director's one-time password is in the terminal) shows only
    while the first director has never signed in (:func:`store.users.first_director_pending`).
    """
    st.title("Sign in")
    st.caption("Ketamine & esketamine outcomes: the clinic's dashboard.")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(notice, icon=":material/info:")
    if oidc_configured():
        if st.user.get("is_logged_in", False):
            # signed in at the provider with an account that has no role here: signing in
            # again would bring back the same account, so offer to leave it instead
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="logout_oidc")
        else:
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
    with st.form("login_form", clear_on_submit=True, width=420):
        username = st.text_input("User name", key="login_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="login_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(
            "Sign in", type="primary", icon=":material/login:", key="login_submit"
        )
    render_cookie_script()  # below the form: a sign-out's cookie is cleared from here
    if not submitted:
        startup.begin()  # after the form: the form's own run does not share the processor
        startup.wait()
        # the form is already on screen; the notice joins it when the database is ready
        from store import first_director_pending

        if first_director_pending():
            _first_start_notice(first_start_notice)
        return
    startup.wait()
    from store import create_session, login

    result = login(username, password, client=client_address())
    if result.ok:
        token, session = create_session(result.user)
        st.session_state[SESSION_KEY] = session
        if cookie_routes_enabled():
            st.session_state[COOKIE_ACTION_KEY] = ("set", issue_cookie_ticket(token))
        st.rerun()
    st.error(sign_in_failed_message(result.retry_at), icon=":material/error:")


def _first_start_notice(slot) -> None:
    slot.info(
        "First start: the director account `director` was created, and its one-time "
        "password was printed in the terminal that started the dashboard.",
        icon=":material/key:",
    )


def _sign_out() -> None:
    session = st.session_state.pop(SESSION_KEY, None)
    if session is not None:
        if session.token_hash is not None:
            from store import revoke_session

            revoke_session(session.token_hash)
        audit("logout")
    if cookie_routes_enabled():
        st.session_state[COOKIE_ACTION_KEY] = ("clear", None)
    # the cookie this tab connected with is revoked: do not try it again
    token = _cookie_token()
    if token is not None:
        st.session_state[COOKIE_TRIED_KEY] = _ticket_hash(token)
    st.session_state.pop(RUN_USER_KEY, None)
    if oidc_configured():
        st.logout()


def render_account(user, glossary=None) -> None:
    """Who is signed in, the sign-out button and the glossary link, at the top of the sidebar.

    ``glossary`` is the glossary's ``st.Page`` (linked on every page when given).
    """
    st.sidebar.caption(f":material/person: Signed in as **{user.username}** ({user.role})")
    st.sidebar.button(
        "Sign out", key="sign_out", on_click=_sign_out, icon=":material/logout:", width="stretch"
    )
    if glossary is not None:
        st.sidebar.page_link(
            glossary, label="Glossary: the words used here", icon=":material/menu_book:"
        )
    render_cookie_script(st.sidebar)
