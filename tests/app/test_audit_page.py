"""The audit log page says whether the audit trail's chain is intact, in a director's words."""

import sqlite3

from tests.app.test_pages import signed_in_app

PAGE = "app_pages/audit.py"


def test_the_audit_page_says_the_trail_is_intact(app_env):
    at = signed_in_app(PAGE)
    assert not at.exception and not at.error
    intact = [s.value for s in at.success if s.value.startswith("Audit trail intact: ")]
    assert len(intact) == 1 and intact[0].endswith("entries, each chained to the one before.")


def test_the_audit_page_names_an_entry_changed_behind_its_back(app_env, tmp_path):
    at = signed_in_app(PAGE)
    # someone with the database file drops the trigger, rewrites an entry and restores it
    db = sqlite3.connect(tmp_path / "clinic.sqlite")
    with db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("""UPDATE audit SET detail = '{"rows": 0}' WHERE id = 1""")
        db.execute(
            "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    db.close()
    at.run()
    assert not at.exception
    assert not at.success
    (error,) = [e.value for e in at.error]
    assert error.startswith("Entry 1 of the audit trail was changed or forged")
    assert "keep a copy of it as it is now" in error
