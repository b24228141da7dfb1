"""Users and sign-in: roles and pages, password rules, lockout with back-off, first director."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from store.audit import read_audit
from store.config import LockoutPolicy
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
)
from tests.store.fixtures import engine_fixture  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
DIRECTOR = User("dana", "director")


class Clock:
    """A clock the test moves by hand: lockout is tested without sleeping."""

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
def test_lockout_delay_doubles_to_a_ceiling(failures, seconds):
    assert LockoutPolicy().delay_after(failures) == timedelta(seconds=seconds)


def test_login_and_wrong_password(engine):
    add_user("alice", PASSWORD, "clinician", actor=DIRECTOR, engine=engine)
    assert authenticate("alice", PASSWORD, engine=engine) == User("alice", "clinician")
    assert authenticate("alice", "wrong password!", engine=engine) is None
    assert authenticate("nobody", PASSWORD, engine=engine) is None


def test_five_failures_lock_the_account_with_growing_delays(engine):
    clock = Clock()
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    for _ in range(4):
        assert login("alice", "bad password", engine=engine, clock=clock).locked_until is None
    fifth = login("alice", "bad password", engine=engine, clock=clock)
    assert fifth.locked_until == T0 + timedelta(seconds=30)
    # While locked even the right password is refused, and the lock does not grow.
    clock.advance(seconds=29)
    locked = login("alice", PASSWORD, engine=engine, clock=clock)
    assert (locked.user, locked.locked_until) == (None, T0 + timedelta(seconds=30))
    clock.advance(seconds=1)
    sixth = login("alice", "bad password", engine=engine, clock=clock)
    assert sixth.locked_until == clock.now + timedelta(seconds=60)
    clock.advance(seconds=60)
    assert authenticate("alice", PASSWORD, engine=engine, clock=clock) == User("alice", "staff")
    # A success resets the count: four more failures do not lock.
    for _ in range(4):
        assert login("alice", "bad password", engine=engine, clock=clock).locked_until is None


def test_logins_are_audited_without_passwords(engine):
    add_user("alice", PASSWORD, "staff", actor=DIRECTOR, engine=engine)
    authenticate("alice", PASSWORD, engine=engine)
    authenticate("alice", "wrong password!", engine=engine)
    authenticate(PASSWORD, PASSWORD, engine=engine)  # a password typed as the name
    log = read_audit(engine).sort_values("id")
    assert log["action"].tolist() == ["user_added", "login", "login_failed", "login_failed"]
    assert log["username"].fillna("-").tolist()[1:] == ["alice", "alice", "-"]
    assert log["detail"].tolist()[3] == {"reason": "unknown user"}
    assert not log.astype(str).apply(lambda c: c.str.contains(PASSWORD)).any().any()


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
