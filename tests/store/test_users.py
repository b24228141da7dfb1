"""Users and sign-in: roles and pages, password rules, the sign-in throttle, first director."""

import re
from datetime import UTC, datetime, timedelta

import argon2
import pandas as pd
import pytest
import sqlalchemy as sa

from store.audit import read_audit
from store.config import LockoutPolicy
from store.models import LoginThrottle
from store.users import (
    PAGES,
    USERNAME_RULE,
    User,
    add_user,
    allowed_pages,
    authenticate,
    can,
    change_role,
    ensure_first_director,
    list_users,
    login,
    remove_user,
    set_password,
    start_session,
    throttle_account,
    unblock_login,
)
from tests.store.fixtures import engine_fixture  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
DIRECTOR = User("dana", "director")


class Clock:
    """A clock the test moves by hand: the throttle is tested without sleeping."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.mark.parametrize(
    "role, pages",
    [
        ("director", set(PAGES)),
        (
            "clinician",
            {
                "overview",
                "outcomes",
                "durability",
                "safety",
                "cohorts",
                "claims",
                "settings",
                "glossary",
            },
        ),
        ("staff", {"data", "glossary"}),
    ],
)
def test_pages_per_role(role, pages):
    assert allowed_pages(role) == pages


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown role 'admin'; roles: director, clinician, staff"):
        allowed_pages("admin")


@pytest.mark.parametrize(
    "user, action, allowed",
    [
        (User("d", "director"), "rollback", True),
        (User("d", "director"), "read_audit", True),
        (User("c", "clinician"), "import", False),
        (User("s", "staff"), "import", True),
        (User("s", "staff"), "rollback", False),
        (None, "import", False),
    ],
)
def test_actions_per_role(user, action, allowed):
    assert can(user, action) is allowed


# LockoutPolicy defaults: 5 free failures, then 30 s doubling to at most 1 h.
@pytest.mark.parametrize(
    "failures, seconds",
    [(1, 0), (4, 0), (5, 30), (6, 60), (7, 120), (11, 1920), (12, 3600), (40, 3600)],
)
def test_throttle_delay_doubles_to_a_ceiling(failures, seconds):
    assert LockoutPolicy().delay_after(failures) == timedelta(seconds=seconds)


def test_login_and_wrong_password(engine):
    add_user("alice", PASSWORD, "clinician", actor=DIRECTOR, engine=engine)
    assert authenticate("alice", PASSWORD, engine=engine) == User("alice", "clinician")
    assert authenticate("alice", "wrong password!", engine=engine) is None
    assert authenticate("nobody", PASSWORD, engine=engine) is None


def _fail(engine, clock, name="alice", client="10.0.0.1", times=1):
    """``times`` wrong passwords for ``name`` from ``client``; the last result (None for 0)."""
    result = None
    for _ in range(times):
        result = login(name, "bad password", client=client, engine=engine, clock=clock)
    return result


def test_an_unknown_name_gets_the_same_answer_as_a_known_one(engine):
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    known, unknown = Clock(), Clock()
    answers = []
    for _ in range(6):
        ours, theirs = _fail(engine, known, "alice"), _fail(engine, unknown, "ghost")
        assert ours == theirs
        answers.append(ours)
    assert [a.retry_at for a in answers] == [None] * 4 + [T0 + timedelta(seconds=30)] * 2
    # while waiting, even alice's right password gets the answer of a name that does not exist
    ours = login("alice", PASSWORD, client="10.0.0.1", engine=engine, clock=known)
    theirs = login("ghost", PASSWORD, client="10.0.0.1", engine=engine, clock=unknown)
    assert ours == theirs == answers[-1]


class CountingVerify:
    """Stands in for ``PasswordHasher.verify``: counts the calls, then verifies for real."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = argon2.PasswordHasher.verify

        def verify(hasher, password_hash, password):
            self.calls += 1
            return real(hasher, password_hash, password)

        monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)


@pytest.mark.parametrize(
    "name, password, failures_before, ok",
    [
        pytest.param("alice", PASSWORD, 0, True, id="right password"),
        pytest.param("alice", "bad password", 0, False, id="wrong password"),
        pytest.param("ghost", "bad password", 0, False, id="unknown name"),
        pytest.param("alice", PASSWORD, 5, False, id="waiting, right password"),
        pytest.param("alice", "bad password", 5, False, id="waiting, wrong password"),
        pytest.param("ghost", "bad password", 5, False, id="waiting, unknown name"),
    ],
)
def test_every_try_costs_one_verification(engine, monkeypatch, name, password, failures_before, ok):
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    clock = Clock()
    _fail(engine, clock, name, times=failures_before)
    counter = CountingVerify(monkeypatch)
    result = login(name, password, client="10.0.0.1", engine=engine, clock=clock)
    assert (result.ok, counter.calls) == (ok, 1)


def test_failures_from_one_client_never_block_another(engine):
    clock = Clock()
    add_user("director", PASSWORD, "director", engine=engine)
    fifth = _fail(engine, clock, "director", client="203.0.113.9", times=5)
    assert fifth.retry_at == T0 + timedelta(seconds=30)
    # the director, from their own computer, signs in as usual
    mine = login("director", PASSWORD, client="10.0.0.1", engine=engine, clock=clock)
    assert mine.user == User("director", "director")
    # the guessing client is refused without checking, even with the right password
    clock.advance(seconds=29)
    refused = login("director", PASSWORD, client="203.0.113.9", engine=engine, clock=clock)
    wrong = login("director", "bad password", client="203.0.113.9", engine=engine, clock=clock)
    assert refused == wrong
    assert (refused.user, refused.retry_at) == (None, T0 + timedelta(seconds=30))
    # once the wait is over, it may try again
    clock.advance(seconds=1)
    later = login("director", PASSWORD, client="203.0.113.9", engine=engine, clock=clock)
    assert later.user == User("director", "director")


def test_the_wait_grows_with_further_failures(engine):
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    clock = Clock()
    waits = []
    for _ in range(9):
        result = _fail(engine, clock)
        waits.append(None if result.retry_at is None else (result.retry_at - clock.now).seconds)
        # each further failure comes once the previous wait is over
        clock.now = result.retry_at or clock.now
    assert waits == [None, None, None, None, 30, 60, 120, 240, 480]


def test_refused_tries_do_not_extend_the_wait_and_a_success_clears_the_count(engine):
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    clock = Clock()
    _fail(engine, clock, times=5)
    for _ in range(3):
        assert _fail(engine, clock).retry_at == T0 + timedelta(seconds=30)
    clock.advance(seconds=30)
    assert authenticate("alice", PASSWORD, client="10.0.0.1", engine=engine, clock=clock)
    # a success resets this client's count: four more failures do not make it wait
    assert _fail(engine, clock, times=4).retry_at is None


def test_a_count_is_forgotten_a_day_after_its_last_failure(engine):
    clock = Clock()
    _fail(engine, clock, "ghost", times=4)
    clock.advance(hours=24)
    assert _fail(engine, clock, "ghost").retry_at is None  # counts from one again


def test_the_throttle_keeps_the_name_only_as_a_digest_and_ignores_case(engine):
    clock = Clock()
    _fail(engine, clock, "Director", times=3)
    _fail(engine, clock, " director", times=2)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(LoginThrottle.account, LoginThrottle.failures)).all()
    assert rows == [(throttle_account("director"), 5)]
    assert "director" not in rows[0].account


def test_unblock_login_clears_every_client_and_is_audited(engine):
    clock = Clock()
    add_user("director", PASSWORD, "director", engine=engine)
    for client in ("203.0.113.9", "198.51.100.4"):
        _fail(engine, clock, "director", client=client, times=6)
    assert unblock_login("director", actor="cli:root", engine=engine) == 2
    for client in ("203.0.113.9", "198.51.100.4"):
        result = login("director", PASSWORD, client=client, engine=engine, clock=clock)
        assert result.user == User("director", "director")
    entry = read_audit(engine, action="login_unblocked")
    assert entry["username"].tolist() == ["cli:root"]
    assert entry["detail"].tolist() == [{"username": "director", "clients": 2}]


def test_only_a_director_unblocks(engine):
    with pytest.raises(PermissionError, match="only a director can manage users"):
        unblock_login("director", actor=User("s", "staff"), engine=engine)


def test_a_new_password_clears_the_waits(engine):
    clock = Clock()
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    _fail(engine, clock, times=5)
    set_password("alice", "another long password", actor=DIRECTOR, engine=engine)
    result = login("alice", "another long password", client="10.0.0.1", engine=engine, clock=clock)
    assert result.ok


def test_every_try_is_audited_with_the_client_and_never_the_password(engine):
    clock = Clock()
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    authenticate("alice", PASSWORD, client="10.0.0.1", engine=engine, clock=clock)
    _fail(engine, clock, times=5)
    login("alice", PASSWORD, client="10.0.0.1", engine=engine, clock=clock)  # waiting: refused
    authenticate(PASSWORD, PASSWORD, engine=engine, clock=clock)  # a password typed as the name
    log = read_audit(engine).sort_values("id")
    rows = list(zip(log["action"], log["username"].fillna("-"), log["detail"], strict=True))
    failed = [
        ("login_failed", "alice", {"consecutive_failures": n, "client": "10.0.0.1", "wait_seconds": w})
        for n, w in [(1, 0), (2, 0), (3, 0), (4, 0), (5, 30)]
    ]  # fmt: skip
    assert rows == [
        ("user_added", "dana", {"username": "alice", "role": "staff"}),
        ("login", "alice", {"client": "10.0.0.1"}),
        *failed,
        ("login_locked", "alice", {"client": "10.0.0.1", "wait_seconds": 30}),
        ("login_failed", "-", {"reason": "unknown user", "client": "unknown", "wait_seconds": 0}),
    ]
    assert not log.astype(str).apply(lambda c: c.str.contains(PASSWORD)).any().any()


def test_list_users_shows_recent_failures_and_waits(engine):
    clock = Clock()
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine, clock=clock)
    add_user("bob", PASSWORD, "staff", actor=DIRECTOR, engine=engine, clock=clock)
    _fail(engine, clock, "alice", client="10.0.0.1", times=5)
    _fail(engine, clock, "alice", client="10.0.0.2", times=2)
    users = list_users(engine, clock=clock).set_index("username")
    assert users["failed_logins"].to_dict() == {"alice": 7, "bob": 0}
    assert users.loc["alice", "locked_until"] == T0 + timedelta(seconds=30)
    assert pd.isna(users.loc["bob", "locked_until"])
    clock.advance(seconds=30)
    assert list_users(engine, clock=clock)["locked_until"].isna().all()


def test_first_director_is_created_once_with_a_random_password(engine):
    password = ensure_first_director(engine=engine)
    assert password is not None and len(password) >= 20
    assert authenticate("director", password, engine=engine) == User("director", "director")
    assert ensure_first_director(engine=engine) is None
    assert list_users(engine)["username"].tolist() == ["director"]


def test_user_management(engine):
    add_user("bob", PASSWORD, "staff", actor="cli:root", engine=engine)
    change_role("bob", "clinician", actor="cli:root", engine=engine)
    set_password("bob", "another long password", actor="cli:root", engine=engine)
    assert authenticate("bob", "another long password", engine=engine) == User("bob", "clinician")
    users = list_users(engine)
    assert "password_hash" not in users.columns
    remove_user("bob", actor="cli:root", engine=engine)
    assert list_users(engine).empty


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda e: add_user("x", "short", "staff", engine=e), ValueError, "at least 12 characters"),
        (lambda e: add_user("x y", PASSWORD, "staff", engine=e), ValueError, "user name refused"),
        (lambda e: add_user("x", PASSWORD, "boss", engine=e), ValueError, "unknown role 'boss'"),
        (lambda e: add_user("dana", PASSWORD, "staff", engine=e), ValueError, "already exists"),
        (
            lambda e: add_user("x", PASSWORD, "staff", actor=User("s", "staff"), engine=e),
            PermissionError,
            "only a director can manage users",
        ),
        (
            lambda e: remove_user("dana", engine=e),
            ValueError,
            "the last director cannot be removed",
        ),
        (
            lambda e: change_role("dana", "staff", engine=e),
            ValueError,
            "the last director cannot lose the director role",
        ),
        (lambda e: remove_user("ghost", engine=e), ValueError, "no user 'ghost'"),
        (
            lambda e: set_password("dana", PASSWORD, actor=User("s", "staff"), engine=e),
            PermissionError,
            "only a director can change another user's password",
        ),
    ],
)
def test_user_management_refuses(engine, call, error, match):
    add_user("dana", PASSWORD, "director", engine=engine)
    with pytest.raises(error, match=match):
        call(engine)


NAME_RULE = re.escape(f"user name refused: {USERNAME_RULE}")


@pytest.mark.parametrize(
    "name, error, match",
    [
        # a spreadsheet would run these from the audit log's CSV download
        ('=HYPERLINK("http://x","y")', ValueError, NAME_RULE),
        ("+cmd", ValueError, NAME_RULE),
        ("-A1", ValueError, NAME_RULE),
        ("@SUM(A1)", ValueError, NAME_RULE),
        # blank, too long, spaces and characters outside the set
        ("", ValueError, NAME_RULE),
        ("   ", ValueError, NAME_RULE),
        ("a" * 65, ValueError, NAME_RULE),
        ("ann smith", ValueError, NAME_RULE),
        ("ann\tsmith", ValueError, NAME_RULE),
        ("ann;drop", ValueError, NAME_RULE),
        ("ann\u200b", ValueError, NAME_RULE),
        ("аnn", ValueError, NAME_RULE),  # Cyrillic a, looks like Latin
        ("_ann", ValueError, NAME_RULE),
        (".ann", ValueError, NAME_RULE),
        (None, TypeError, "a user name must be str, got NoneType"),
    ],
)
def test_add_user_refuses_unsafe_names(engine, name, error, match):
    with pytest.raises(error, match=match):
        add_user(name, PASSWORD, "staff", engine=engine)
    assert list_users(engine).empty


@pytest.mark.parametrize(
    "name, stored",
    [
        ("a", "a"),
        ("a" * 64, "a" * 64),
        ("ann.smith", "ann.smith"),
        ("ann_smith-2", "ann_smith-2"),
        ("ann@clinic.org", "ann@clinic.org"),
        ("  Bob7 ", "Bob7"),
    ],
)
def test_add_user_accepts_safe_names(engine, name, stored):
    assert add_user(name, PASSWORD, "staff", engine=engine) == User(stored, "staff")
    assert list_users(engine)["username"].tolist() == [stored]


def test_sessions_expire_after_the_ttl():
    session = start_session(DIRECTOR, now=T0, ttl=timedelta(minutes=30))
    assert not session.expired(T0 + timedelta(minutes=29))
    assert session.expired(T0 + timedelta(minutes=30))
    touched = session.touched(T0 + timedelta(minutes=20), ttl=timedelta(minutes=30))
    assert not touched.expired(T0 + timedelta(minutes=45))


def test_importing_the_users_module_hashes_nothing():
    # every command imports store.users; the dummy hash of a failed sign-in waits for one
    import subprocess
    import sys

    code = (
        "import argon2\n"
        "calls = []\n"
        "original = argon2.PasswordHasher.hash\n"
        "def counted(self, *args, **kwargs):\n"
        "    calls.append(1)\n"
        "    return original(self, *args, **kwargs)\n"
        "argon2.PasswordHasher.hash = counted\n"
        "import store.users\n"
        "print(len(calls))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
