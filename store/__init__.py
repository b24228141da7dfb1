"""The clinic's database: import batches, users and roles, audit. See ``docs/storage.md``.

The names the dashboard needs are re-exported here; ``analytics`` never imports this package
(its analyses take :class:`analytics.core.contract.ClinicData`, which :func:`load_clinic` returns).
"""

import importlib

# Each name is imported from its module on first use (PEP 562), so that `import store.users`
# for the sign-in screen does not pull in the importer, pandera and Alembic.
_EXPORTS = {
    "BatchResult": "store.imports",
    "LoginSession": "store.users",
    "StorageError": "store.failures",
    "User": "store.users",
    "allowed_pages": "store.users",
    "authenticate": "store.users",
    "batch_details": "store.history",
    "can": "store.users",
    "clear_sample": "store.sample",
    "conflict_detail": "store.conflicts",
    "content_hashes": "store.content",
    "create_session": "store.sessions",
    "data_version": "store.clinic",
    "ensure_first_director": "store.users",
    "first_director_pending": "store.users",
    "forget_content_hashes": "store.content",
    "ensure_sample": "store.sample",
    "get_engine": "store.db",
    "import_upload": "store.imports",
    "list_batches": "store.history",
    "list_conflicts": "store.conflicts",
    "load_clinic": "store.clinic",
    "login": "store.users",
    "read_audit": "store.audit",
    "record_audit": "store.audit",
    "record_content_hashes": "store.content",
    "refresh_snapshot": "store.clinic",
    "resolve_conflicts": "store.conflicts",
    "resume_session": "store.sessions",
    "revoke_session": "store.sessions",
    "rollback": "store.rollbacks",
    "sample_loaded": "store.sample",
    "session_user": "store.sessions",
    "start_session": "store.users",
    "touch_session": "store.sessions",
    "unblock_login": "store.users",
    "verify_audit_chain": "store.audit",
}


__all__ = [
    "BatchResult",
    "LoginSession",
    "StorageError",
    "User",
    "allowed_pages",
    "authenticate",
    "batch_details",
    "can",
    "clear_sample",
    "conflict_detail",
    "content_hashes",
    "create_session",
    "data_version",
    "ensure_first_director",
    "ensure_sample",
    "first_director_pending",
    "forget_content_hashes",
    "get_engine",
    "import_upload",
    "list_batches",
    "list_conflicts",
    "load_clinic",
    "login",
    "read_audit",
    "record_audit",
    "record_content_hashes",
    "refresh_snapshot",
    "resolve_conflicts",
    "resume_session",
    "revoke_session",
    "rollback",
    "sample_loaded",
    "session_user",
    "start_session",
    "touch_session",
    "unblock_login",
    "verify_audit_chain",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
