"""The session cookie's way into the browser: one-time tickets, the route, the role note."""

import asyncio
import concurrent.futures
import importlib
import json
from types import SimpleNamespace

import pytest
from starlette.requests import Request

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
