"""The clinic's database: import batches, users and roles, audit. See ``docs/storage.md``.

The names the dashboard needs are re-exported here; ``analytics`` never imports this package
(its analyses take :class:`analytics.contract.ClinicData`, which :func:`load_clinic` returns).
"""

from store.audit import read_audit, record_audit
from store.batches import (
    BatchResult,
    clear_sample,
    conflict_detail,
    data_version,
    ensure_sample,
    import_upload,
    list_batches,
    list_conflicts,
    load_clinic,
    resolve_conflicts,
    rollback,
    sample_loaded,
)
from store.db import get_engine
from store.users import (
    LoginSession,
    User,
    allowed_pages,
    authenticate,
    can,
    ensure_first_director,
    login,
    start_session,
)

__all__ = [
    "BatchResult",
    "LoginSession",
    "User",
    "allowed_pages",
    "authenticate",
    "can",
    "clear_sample",
    "conflict_detail",
    "data_version",
    "ensure_first_director",
    "ensure_sample",
    "get_engine",
    "import_upload",
    "list_batches",
    "list_conflicts",
    "load_clinic",
    "login",
    "read_audit",
    "record_audit",
    "resolve_conflicts",
    "rollback",
    "sample_loaded",
    "start_session",
]
