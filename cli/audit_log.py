"""``python -m analytics audit verify``: check that the audit trail's chain of seals is intact.

Every audit entry is sealed to the one before it (see ``store.audit``); the command recomputes
the seals of the configured database and exits 0 when every entry is chained to the one before,
1 (naming the first broken entry) otherwise.
"""

from __future__ import annotations

import argparse

__all__ = ["add_audit_command"]


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from store.audit import verify_audit_chain

    check = verify_audit_chain()
    print(check.sentence)
    if not check.ok:
        print(
            "Keep a copy of the database as it is now, and compare the audit log with a backup "
            "taken before that entry to see what was changed or removed."
        )
        return 1
    if check.newest_id is not None:
        # removing the newest entries leaves an intact chain: a seal noted elsewhere shows it
        print(f"Newest entry: {check.newest_id}, seal {check.newest_hash}.")
    return 0


def add_audit_command(commands) -> None:
    """Register ``audit verify`` on the command line's subcommands."""
    audit = commands.add_parser("audit", help="check the audit trail")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = sub.add_parser(
        "verify", help="check that no audit entry was changed, forged or deleted"
    )
    verify.set_defaults(func=_cmd_audit_verify)
