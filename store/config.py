"""Every storage setting in one place, read from the environment.

- ``DATABASE_URL``: an SQLAlchemy URL. Unset, the clinic's data lives in an embedded SQLite file,
  ``var/clinic.sqlite`` under the project folder (``var/`` is ignored by git). ``postgres://`` and
  ``postgresql://`` URLs are driven by psycopg 3.
- ``DASHBOARD_CACHE_DIR``: where the per-patient tables worked out once per data version are
  kept (:mod:`store.patient_tables`); unset, ``var/cache/`` under the project folder.
- ``SNAPSHOT_DIR``: where the columnar snapshots of the clinic go (:mod:`store.snapshot`).
  Unset: beside the SQLite file, or ``var/snapshots/`` for PostgreSQL; ``off`` disables them.
- ``CLINIC_NAME``: the clinic's name on the cover of its board reports (unset: the report says
  the name is not set; the Overview lets the user type it for one report).
- ``DATABASE_LOCK_TIMEOUT``: seconds a write waits for another writer's lock before it gives
  up with a sentence saying so (default 30).
- ``SESSION_TTL_MINUTES``: minutes a signed-in session stays valid without activity (default 60).
- The sign-in throttle: after :attr:`LockoutPolicy.free_failures` failed sign-ins for one name
  from one client address, each further failure makes that name wait, from that address only,
  for a delay that doubles, up to a ceiling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "clinic_name",
    "LOCKOUT",
    "LockoutPolicy",
    "ROOT",
    "cache_dir",
    "database_url",
    "lock_timeout",
    "session_ttl",
    "snapshot_parent",
]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "var" / "clinic.sqlite"
DEFAULT_SESSION_TTL_MINUTES = 60
DEFAULT_LOCK_TIMEOUT_S = 30.0


def database_url(environ: dict[str, str] | None = None) -> str:
    """The database to use: ``DATABASE_URL`` when set, else the embedded SQLite file."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    # Heroku-style and plain URLs name no driver; psycopg 3 is the one installed.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def lock_timeout(environ: dict[str, str] | None = None) -> float:
    """Seconds a write waits for the database's write lock (``DATABASE_LOCK_TIMEOUT``)."""
    env = os.environ if environ is None else environ
    raw = env.get("DATABASE_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(
            f"DATABASE_LOCK_TIMEOUT must be a number of seconds, not {raw!r}"
        ) from None
    if not seconds > 0:
        raise ValueError(f"DATABASE_LOCK_TIMEOUT must be positive, not {raw}")
    return seconds


def clinic_name(environ: dict[str, str] | None = None) -> str:
    """The clinic's name for its reports (``CLINIC_NAME``), or "" when it is not set."""
    env = os.environ if environ is None else environ
    return " ".join(env.get("CLINIC_NAME", "").split())


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Where results kept across restarts live: ``DASHBOARD_CACHE_DIR``, else ``var/cache``."""
    env = os.environ if environ is None else environ
    raw = env.get("DASHBOARD_CACHE_DIR", "").strip()
    return Path(raw) if raw else ROOT / "var" / "cache"


def snapshot_parent(environ: dict[str, str] | None = None) -> Path | None | bool:
    """``SNAPSHOT_DIR`` as a folder; None when unset (the default place), False when "off"."""
    env = os.environ if environ is None else environ
    raw = env.get("SNAPSHOT_DIR", "").strip()
    if not raw:
        return None
    if raw.lower() in ("off", "none", "0", "false", "no"):
        return False
    return Path(raw)


def session_ttl(environ: dict[str, str] | None = None) -> timedelta:
    """How long a signed-in session lasts without activity (``SESSION_TTL_MINUTES``)."""
    env = os.environ if environ is None else environ
    raw = env.get("SESSION_TTL_MINUTES", "").strip()
    if not raw:
        return timedelta(minutes=DEFAULT_SESSION_TTL_MINUTES)
    try:
        minutes = int(raw)
    except ValueError:
        raise ValueError(f"SESSION_TTL_MINUTES must be a whole number, not {raw!r}") from None
    if minutes <= 0:
        raise ValueError(f"SESSION_TTL_MINUTES must be positive, not {minutes}")
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class LockoutPolicy:
    """Slow down password guessing, per name typed and client address, without locking anyone out.

    Failures are counted per (name typed, client address): a client that keeps failing for a
    name waits longer and longer before its next try for that name, while the same name signs
    in from any other address as usual (nobody can lock the director out from elsewhere).

    Attributes
    ----------
    free_failures : int
        Failures for one name from one address before that address has to wait.
    base_delay : timedelta
        The wait after the first failure beyond ``free_failures``; each further failure doubles it.
    max_delay : timedelta
        Ceiling of the wait.
    forget_after : timedelta
        A count whose last failure is older than this starts again from zero.
    """

    free_failures: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(hours=24)

    def delay_after(self, failures: int) -> timedelta:
        """How long the next try waits after ``failures`` failures (0 while they are free)."""
        if failures < self.free_failures:
            return timedelta(0)
        # Exponent capped so that the multiplication cannot overflow timedelta.
        doublings = min(failures - self.free_failures, 20)
        return min(self.base_delay * 2**doublings, self.max_delay)


LOCKOUT = LockoutPolicy()
