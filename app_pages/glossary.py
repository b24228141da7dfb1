"""Glossary: the words and rules of the dashboard in plain language, with their sources.

Open to every role and independent of the clinic's data: it reads only the outcome definitions
chosen on the Settings page (kept in the session), so its numbers are the ones in force.
"""

import streamlit as st

from analytics.core.definitions import OutcomeDefinitions
from ui import glossary, settings

# Text in lines a person reads comfortably, however wide the window (the app's layout is wide);
# a narrower window shrinks the column to fit.
page = st.container(width=840)
page.title("Glossary")
page.caption(
    "What the words and numbers on these pages mean, how this dashboard computes them, and "
    "where each definition comes from."
)


def _definitions(instrument: str) -> tuple[OutcomeDefinitions, str | None]:
    """The definitions in force for ``instrument``, or its defaults with the reason."""
    try:
        return settings.current_definitions(instrument), None
    except ValueError as error:
        return OutcomeDefinitions.for_instrument(instrument), str(error)


pcl5, pcl5_problem = _definitions("PCL-5")
phq9, phq9_problem = _definitions("PHQ-9")
if pcl5_problem or phq9_problem:
    page.warning(
        f"A setting was not accepted ({pcl5_problem or phq9_problem}); the glossary shows the "
        "default definitions.",
        icon=":material/info:",
    )
terms = glossary.glossary_terms(pcl5, phq9)

query = page.text_input(
    "Search the glossary",
    key="glossary_search",
    placeholder="a word, e.g. remission, ITT, censoring",
    icon=":material/search:",
)
shown = glossary.matching_terms(query, terms)
if not query:
    # one line of links to every heading, so a term is a click away without scrolling
    page.markdown(" · ".join(f"[{t.term.split(' (')[0]}](#{t.anchor})" for t in terms))
elif shown:
    page.caption(f"{len(shown)} of {len(terms)} terms match “{query.strip()}”.")
else:
    page.info(
        f"No term matches “{query.strip()}”. Try a shorter word, or clear the search to see "
        "every term.",
        icon=":material/search_off:",
    )

# Opened from another page's link at one term (?term=remission): that term first, in a box.
asked = st.query_params.get(glossary.TERM_PARAMETER)
first = next((t for t in terms if t.anchor == asked), None) if asked else None
if first is not None and not query:
    box = page.container(border=True)
    box.subheader(first.term, anchor=False)
    box.markdown(first.definition)
    box.markdown(f"**In this dashboard:** {first.in_dashboard}")
    box.caption(f"Source: {first.source}")

for group in glossary.GROUPS:
    members = [t for t in shown if t.group == group]
    if not members:
        continue
    page.header(group, divider="gray", anchor=False)
    for term in members:
        page.subheader(term.term, anchor=term.anchor)
        page.markdown(term.definition)
        page.markdown(f"**In this dashboard:** {term.in_dashboard}")
        page.caption(f"Source: {term.source}")
