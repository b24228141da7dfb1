"""The dashboard's router: first start, sign-in, the pages the role may see, the sidebar.

The page scripts live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder as
the old folder-based navigation until this router has run once in the process, so a first visit
to a deep link would bypass the router (and its sidebar).

Only the pages the signed-in role may see (``store.allowed_pages``) are listed in the menu; the
others are registered hidden, so opening one by its URL shows "The Data page is not available
to the clinician role." instead of running it (each page checks again with
``ui.auth.require_page``). Signed out, every page's URL shows the sign-in form only, and the
page opens once signed in.

A reload or a new tab stays signed in when the app runs through ``server.py`` (``make run``):
``ui.auth.current_user`` resumes the session from its HttpOnly cookie. Run as
``streamlit run dashboard.py`` the sign-in lasts as long as the tab.
"""

import functools

import streamlit as st

from ui import auth

st.set_page_config(
    layout="wide",
    page_title="Ketamine & esketamine outcomes",
    page_icon=":material/monitoring:",
)

# (section, page key of store.users.PAGES, script, title, icon)
PAGES = [
    ("Clinic", "overview", "overview.py", "Overview", ":material/dashboard:"),
    ("Clinic", "outcomes", "outcomes.py", "Outcomes", ":material/trending_down:"),
    ("Clinic", "durability", "durability.py", "Durability", ":material/timelapse:"),
    ("Clinic", "safety", "safety.py", "Safety", ":material/health_and_safety:"),
    ("Clinicians", "cohorts", "cohorts.py", "Cohorts & patients", ":material/groups:"),
    ("Clinicians", "claims", "claims.py", "Claims check", ":material/fact_check:"),
    ("Data", "data", "data.py", "Data", ":material/upload_file:"),
    ("Data", "settings", "settings.py", "Settings", ":material/tune:"),
    ("Administration", "import_history", "imports.py", "Import history", ":material/history:"),
    ("Administration", "audit", "audit.py", "Audit log", ":material/policy:"),
    ("Administration", "users", "users.py", "Users", ":material/manage_accounts:"),
    ("Help", "glossary", "glossary.py", "Glossary", ":material/menu_book:"),
]
# Pages that show the clinic's numbers, and so need the cohort filters in the sidebar.
DASHBOARD_PAGES = {"overview", "outcomes", "durability", "safety", "cohorts", "claims"}


def say_storage_failure(error: Exception) -> None:
    """Show a database failure (locked, stopped, read-only, ...) as its sentence and stop the
    run; any other error is raised again, for Streamlit to report as the bug it is."""
    # imported here: the sign-in form's path stays free of SQLAlchemy until something fails
    from store.failures import storage_failure_sentence

    sentence = storage_failure_sentence(error)
    if sentence is None:
        raise error
    st.error(sentence, icon=":material/database:")
    st.stop()


# The sign-in form needs only Streamlit: the database is prepared on a background thread that
# the form starts once it is drawn (ui/startup.py).
try:
    user = auth.current_user()
except Exception as error:
    say_storage_failure(error)
st.session_state[auth.RUN_USER_KEY] = user

if user is None:
    # Every page's URL leads to the sign-in form (and nothing else: no menu, no "page not
    # found"), so a deep link opens its page after sign-in. The form at the root has a path of
    # its own: after sign-in it matches no page, and the role's first page opens.
    sign_in = [
        st.Page(
            auth.render_login,
            title="Sign in",
            icon=":material/login:",
            url_path=url_path,
            default=url_path == "sign-in",
        )
        for url_path in ["sign-in", *(script.removesuffix(".py") for _, _, script, _, _ in PAGES)]
    ]
    try:
        st.navigation(sign_in, position="hidden").run()
    except Exception as error:
        say_storage_failure(error)
    st.stop()

# after sign-in: keeps the sign-in form's path free of pandas, SQLAlchemy and the analytics
from store import allowed_pages  # noqa: E402
from ui import clinic, cohort, settings  # noqa: E402

allowed = allowed_pages(user.role)
shown = [row for row in PAGES if row[1] in allowed]
sections: dict[str, list] = {}
keys: dict[str, str] = {}  # title -> key of the pages the role may see
glossary = None
for section, key, script, title, icon in PAGES:
    url_path = script.removesuffix(".py")
    if key in allowed:
        entry = st.Page(
            f"app_pages/{script}",
            title=title,
            icon=icon,
            url_path=url_path,
            default=key == shown[0][1],
        )
        keys[title] = key
        glossary = entry if key == "glossary" else glossary
    else:
        # reachable by URL only, to say the page is not for this role
        entry = st.Page(
            functools.partial(auth.render_unavailable, title),
            title=title,
            icon=icon,
            url_path=url_path,
            visibility="hidden",
        )
    sections.setdefault(section, []).append(entry)
page = st.navigation(sections)

auth.render_account(user, glossary)
page_key = keys.get(page.title) if page.visibility == "visible" else None
if page_key is None:  # the note on a page the role may not see: no data needed
    page.run()
    st.stop()
try:
    loaded = clinic.active_clinic()
    # cohort filters only beside the pages that show the clinic's numbers
    if page_key in DASHBOARD_PAGES:
        filters = cohort.render_sidebar(loaded)
    else:
        filters = cohort.CohortFilters()
    cohort.build_context(loaded, filters)
    if page_key in DASHBOARD_PAGES:
        settings.render_definitions_sidebar()
    page.run()
except Exception as error:
    say_storage_failure(error)
