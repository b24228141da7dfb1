"""The web server around the dashboard: ``dashboard.py`` plus the session cookie's route.

Run with ``streamlit run server.py`` (``make run`` does): Streamlit finds the ``st.App`` below
and serves ``dashboard.py`` through it, with one extra route, :data:`ui.auth.COOKIE_ROUTE`:

- ``POST`` with ``{"ticket": ...}``: the one-time ticket a sign-in just issued is exchanged for
  ``Set-Cookie: clinic_session=<token>; HttpOnly; SameSite=Strict; Path=/`` (``Secure`` over
  HTTPS). The token never reaches page JavaScript, and the cookie lasts until the browser
  closes; the server ends the session earlier after ``SESSION_TTL_MINUTES`` without activity.
- ``DELETE``: the session of the cookie the browser sends is revoked and the cookie cleared
  (sign-out).

Both refuse a request whose ``Origin`` is not this server (another site cannot sign a browser
in or out). ``streamlit run dashboard.py`` still works, without this route: a sign-in then
lasts as long as the browser tab.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ui import auth

DASHBOARD = Path(__file__).resolve().parent / "dashboard.py"


def _same_origin(request: Request) -> bool:
    """True when the request comes from a page of this server (its ``Origin`` is our host)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


def _cookie_options(request: Request) -> dict:
    return {
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        # browsers drop a Secure cookie sent over plain HTTP (a local run)
        "secure": request.url.scheme == "https",
    }


def _revoke(token: str) -> None:
    from store.sessions import hash_token, revoke_session

    revoke_session(hash_token(token))


async def session_cookie(request: Request) -> Response:
    """Set the session cookie from a one-time ticket (POST), or revoke and clear it (DELETE)."""
    if not _same_origin(request):
        return Response(status_code=403)
    if request.method == "DELETE":
        token = request.cookies.get(auth.COOKIE_NAME)
        if token:
            await run_in_threadpool(_revoke, token)
        response = Response(status_code=204)
        response.delete_cookie(auth.COOKIE_NAME, **_cookie_options(request))
        return response
    try:
        ticket = str(json.loads(await request.body()).get("ticket", ""))
    except (ValueError, AttributeError):
        return Response(status_code=400)
    token = auth.redeem_cookie_ticket(ticket)
    if token is None:
        return Response(status_code=403)
    response = Response(status_code=204)
    response.set_cookie(auth.COOKIE_NAME, token, **_cookie_options(request))
    response.headers["Cache-Control"] = "no-store"
    return response


auth.enable_cookie_routes()
app = st.App(
    DASHBOARD,
    routes=[Route(auth.COOKIE_ROUTE, session_cookie, methods=["POST", "DELETE"])],
)

if __name__ == "__main__":
    app.run()
