"""The session cookie's way into the browser, the role note, and what a refused sign-in says."""

import asyncio
import concurrent.futures
import importlib
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from store.users import add_user, login
from tests.store.fixtures import engine_fixture  # noqa: F401
from ui import auth

ORIGIN = "http://testserver"


@pytest.fixture()
def server(monkeypatch):
    """``server.py`` without its Streamlit runtime; the store's revoke recorded, not run."""
    was_enabled = auth.cookie_routes_enabled()
    module = importlib.import_module("server")
    if not was_enabled:  # importing server.py switches the cookie on for the whole process
        auth.disable_cookie_routes()
    revoked: list[str] = []
    monkeypatch.setattr(module, "_revoke", revoked.append)
    module.revoked = revoked
    return module


def _call(server, method: str, *, origin=ORIGIN, body=None, cookie=None, scheme="http"):
    """One request to the cookie route, as the ASGI server would hand it over."""
    host = "testserver" if scheme == "http" else "clinic.example"
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{auth.COOKIE_NAME}={cookie}".encode()))
    payload = b"" if body is None else json.dumps(body).encode()
    scope = {
        "type": "http", "method": method, "path": auth.COOKIE_ROUTE, "headers": headers,
        "scheme": scheme, "server": (host, 443 if scheme == "https" else 80),
        "query_string": b"", "root_path": "",
    }  # fmt: skip

    async def receive():
        return {"type": "http.request", "body": payload, "more_body": False}

    # on a thread of its own: the browser tests' Playwright keeps an event loop running on the
    # main thread for the rest of the session, where asyncio.run would refuse to start
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        response = pool.submit(asyncio.run, server.session_cookie(Request(scope, receive))).result()
    cookies = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    return SimpleNamespace(status=response.status_code, cookie=cookies[0] if cookies else None)


# --------------------------------------------------------------------------- tickets
def test_a_ticket_gives_its_token_once():
    ticket = auth.issue_cookie_ticket("the-token", now=100.0)
    assert ticket != "the-token" and len(ticket) >= 43
    assert auth.redeem_cookie_ticket(ticket, now=101.0) == "the-token"
    assert auth.redeem_cookie_ticket(ticket, now=101.0) is None


@pytest.mark.parametrize(
    "ticket, seconds_later",
    [
        pytest.param(None, 1.0, id="unknown ticket"),
        pytest.param("issued", auth.TICKET_SECONDS, id="a minute old"),
    ],
)
def test_a_ticket_is_refused(ticket, seconds_later):
    issued = auth.issue_cookie_ticket("the-token", now=100.0)
    ticket = issued if ticket == "issued" else "never-issued"
    assert auth.redeem_cookie_ticket(ticket, now=100.0 + seconds_later) is None


def test_only_the_hash_of_a_ticket_is_kept():
    ticket = auth.issue_cookie_ticket("the-token")
    assert ticket not in auth.pending_ticket_keys()
    auth.redeem_cookie_ticket(ticket)


# --------------------------------------------------------------------------- the route
def test_the_route_sets_an_httponly_strict_cookie_for_a_ticket(server):
    ticket = auth.issue_cookie_ticket("the-token")
    response = _call(server, "POST", body={"ticket": ticket})
    assert response.status == 204
    assert response.cookie.startswith(f"{auth.COOKIE_NAME}=the-token;")
    for part in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert part in response.cookie
    assert "Secure" not in response.cookie  # plain HTTP: a browser would drop a Secure cookie
    # used: the same ticket sets nothing a second time
    again = _call(server, "POST", body={"ticket": ticket})
    assert (again.status, again.cookie) == (403, None)


def test_over_https_the_cookie_is_secure(server):
    ticket = auth.issue_cookie_ticket("the-token")
    response = _call(
        server, "POST", body={"ticket": ticket}, origin="https://clinic.example", scheme="https"
    )
    assert "Secure" in response.cookie


@pytest.mark.parametrize(
    "origin, body, status",
    [
        pytest.param("http://elsewhere.example", {"ticket": "x"}, 403, id="other site"),
        pytest.param(None, {"ticket": "x"}, 403, id="no origin"),
        pytest.param(ORIGIN, {"ticket": "x"}, 403, id="unknown ticket"),
        pytest.param(ORIGIN, None, 400, id="no body"),
        pytest.param(ORIGIN, ["x"], 400, id="not an object"),
    ],
)
def test_the_route_refuses(server, origin, body, status):
    response = _call(server, "POST", origin=origin, body=body)
    assert (response.status, response.cookie) == (status, None)


def test_delete_revokes_the_cookies_session_and_clears_it(server):
    response = _call(server, "DELETE", cookie="the-token")
    assert response.status == 204
    assert server.revoked == ["the-token"]
    assert response.cookie.startswith(f'{auth.COOKIE_NAME}="";') and "Max-Age=0" in response.cookie


def test_another_site_cannot_sign_a_browser_out(server):
    response = _call(server, "DELETE", cookie="the-token", origin="http://elsewhere.example")
    assert response.status == 403 and server.revoked == []


# --------------------------------------------------------------------------- messages
@pytest.mark.parametrize(
    "title, role, message",
    [
        ("Data", "clinician", "The Data page is not available to the clinician role."),
        ("Outcomes", "staff", "The Outcomes page is not available to the staff role."),
    ],
)
def test_the_role_note(title, role, message):
    assert auth.unavailable_message(title, role) == message


# --------------------------------------------------------------------------- refused sign-ins
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "wait, message",
    [
        (None, "Wrong user name or password."),
        (1, "Wrong user name or password. Try again in 1 second."),
        (30, "Wrong user name or password. Try again in 30 seconds."),
        (119, "Wrong user name or password. Try again in 119 seconds."),
        (3600, "Wrong user name or password. Try again in 60 minutes."),
    ],
)
def test_the_sign_in_failed_message(wait, message):
    retry_at = None if wait is None else T0 + timedelta(seconds=wait)
    assert auth.sign_in_failed_message(retry_at, now=T0) == message


def test_an_unknown_name_sees_what_a_known_name_sees(engine):
    add_user("alice", "correct horse battery", "staff", engine=engine)
    seen = {"alice": [], "ghost": []}
    for name in seen:
        # the 6th and 7th tries come while waiting; the 7th with alice's right password
        for password in ["a wrong password"] * 6 + ["correct horse battery"]:
            result = login(name, password, client="local", engine=engine, clock=lambda: T0)
            seen[name].append(auth.sign_in_failed_message(result.retry_at, now=T0))
    assert seen["alice"] == seen["ghost"]
    assert seen["alice"][-3:] == ["Wrong user name or password. Try again in 30 seconds."] * 3


@pytest.mark.parametrize(
    "address, client",
    [
        pytest.param("203.0.113.9", "203.0.113.9", id="a remote browser"),
        pytest.param("2001:db8::1", "2001:db8::1", id="IPv6"),
        pytest.param(None, "local", id="this computer"),
        pytest.param("", "local", id="empty"),
        pytest.param(object(), "local", id="not text"),
    ],
)
def test_the_client_address_of_a_sign_in(monkeypatch, address, client):
    monkeypatch.setattr(auth.st, "context", SimpleNamespace(ip_address=address))
    assert auth.client_address() == client


def test_the_client_address_without_a_browser_connection(monkeypatch):
    class NoConnection:
        @property
        def ip_address(self):
            raise RuntimeError("no script run context")

    monkeypatch.setattr(auth.st, "context", NoConnection())
    assert auth.client_address() == "local"
