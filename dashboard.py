"""The dashboard's router: page setup, navigation, the shared sidebar, then the chosen page.

The page scripts live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder as
the old folder-based navigation until this router has run once in the process, so a first visit
to a deep link would bypass the router (and its sidebar).
"""

import streamlit as st

from ui import state

st.set_page_config(
    layout="wide",
    page_title="Ketamine & esketamine outcomes",
    page_icon=":material/monitoring:",
)

PAGES = {
    "Clinic": [
        st.Page(
            "app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
        ),
        st.Page("app_pages/outcomes.py", title="Outcomes", icon=":material/trending_down:"),
        st.Page("app_pages/durability.py", title="Durability", icon=":material/timelapse:"),
        st.Page("app_pages/safety.py", title="Safety", icon=":material/health_and_safety:"),
    ],
    "Clinicians": [
        st.Page("app_pages/cohorts.py", title="Cohorts & patients", icon=":material/groups:"),
        st.Page("app_pages/claims.py", title="Claims check", icon=":material/fact_check:"),
    ],
    "Data": [
        st.Page("app_pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("app_pages/settings.py", title="Settings", icon=":material/tune:"),
    ],
}

page = st.navigation(PAGES)

loaded = state.active_clinic()
filters = state.render_sidebar(loaded)
state.build_context(loaded, filters)
state.render_definitions_sidebar()

page.run()
