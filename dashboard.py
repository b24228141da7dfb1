"""The dashboard's router: first start, sign-in, the pages the role may see, the sidebar.

The page scripts live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder as
the old folder-based navigation until this router has run once in the process, so a first visit
to a deep link would bypass the router (and its sidebar).

Only the pages the signed-in role may see (``store.allowed_pages``) are given to
``st.navigation``, so the others are neither listed nor reachable by URL; each page checks again
with ``ui.auth.require_page``.
"""

import functools

import streamlit as st

from ui import auth, startup

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
]
# Pages that show the clinic's numbers, and so need the cohort filters in the sidebar.
DASHBOARD_PAGES = {"overview", "outcomes", "durability", "safety", "cohorts", "claims"}

# The sign-in form needs only Streamlit: the database is prepared on a background thread that
# the form starts once it is drawn (ui/startup.py).
first_start = startup.first_start()  # known once the preparation has finished
user = auth.current_user()
st.session_state[auth.RUN_USER_KEY] = user

if user is None:
    # Every page's URL leads to the sign-in form, so a deep link opens its page after sign-in
    # (when the role may see it) instead of a "page not found" over the form.
    sign_in = [
        st.Page(
            functools.partial(auth.render_login, first_start),
            title="Sign in",
            icon=":material/login:",
            url_path=script.removesuffix(".py"),
            default=number == 0,
        )
        for number, (_, _, script, _, _) in enumerate(PAGES)
    ]
    st.navigation(sign_in, position="hidden").run()
    st.stop()

# after sign-in: keeps the sign-in form's path free of pandas, SQLAlchemy and the analytics
from store import allowed_pages  # noqa: E402
from ui import clinic, cohort, settings  # noqa: E402

allowed = allowed_pages(user.role)
shown = [row for row in PAGES if row[1] in allowed]
sections: dict[str, list] = {}
for section, key, script, title, icon in shown:
    sections.setdefault(section, []).append(
        st.Page(
            f"app_pages/{script}",
            title=title,
            icon=icon,
            url_path=script.removesuffix(".py"),
            default=key == shown[0][1],
        )
    )
page = st.navigation(sections)

auth.render_account(user)
loaded = clinic.active_clinic()
# cohort filters only beside the pages that show the clinic's numbers
page_key = next(key for _, key, _, title, _ in shown if title == page.title)
if page_key in DASHBOARD_PAGES:
    filters = cohort.render_sidebar(loaded)
else:
    filters = cohort.CohortFilters()
cohort.build_context(loaded, filters)
if page_key in DASHBOARD_PAGES:
    settings.render_definitions_sidebar()

page.run()
