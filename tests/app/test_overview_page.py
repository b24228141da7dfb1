"""Overview read as a psychiatrist reads it: the week-4 headline in words, observed and
intention-to-treat rates under their own headings, labels that are not cut at 1024 px."""

import re

from tests.app.test_pages import signed_in_app

# The sample clinic's week 4 (tests/analytics/test_sample.py): 90 of the 157 scored responded,
# 61 of the 150 who started at or above the cut-point remitted.
WEEK4_SENTENCE = (
    "Of the 157 patients scored at week 4, 90 (57%) responded (PCL-5 down by at least 30%); "
    "of the 150 who started at or above the cut-point, 61 (41%) remitted (PCL-5 below 33)."
)


def test_the_week4_headline_is_a_sentence_with_its_counts(app_env):
    at = signed_in_app("app_pages/overview.py")
    captions = [c.value for c in at.caption]
    assert WEEK4_SENTENCE in captions
    # the sentence's k and n are the ones under the metrics
    assert "57% (90/157; 95% CI 50–65%)" in captions
    assert "41% (61/150; 95% CI 33–49%)" in captions


def test_observed_and_intention_to_treat_have_their_own_headings(app_env):
    at = signed_in_app("app_pages/overview.py")
    markdown = [m.value for m in at.markdown]
    assert "**Observed**" in markdown and "**Intention to treat**" in markdown
    # each heading's two rates show short names; the metric keeps its full name
    shown = [re.sub(r"</?small>", "", m) for m in markdown if m.startswith("<small>")]
    assert shown.count("Response") == 2 and shown.count("Remission") == 2
    labels = [m.label for m in at.metric]
    for label in (
        "Response, observed",
        "Remission, observed",
        "Response, intention to treat",
        "Remission, intention to treat",
    ):
        assert label in labels


def test_the_median_time_to_response_reads_as_on_durability(app_env):
    # one number, one source: the same median, interval and counts in the same words
    at = signed_in_app("app_pages/overview.py")
    captions = " ".join(c.value for c in at.caption)
    assert "95% CI 7–14 days (223 patients, 158 responded)." in captions
    durability = signed_in_app("app_pages/durability.py")
    assert "95% CI 7–14 days (223 patients, 158 responded)." in " ".join(
        c.value for c in durability.caption
    )


def test_directors_and_clinicians_get_the_board_report_with_suppression_on(app_env):
    for role in ("director", "clinician"):
        at = signed_in_app("app_pages/overview.py", role=role)
        assert not at.exception, [e.message for e in at.exception]
        assert "Board report" in [s.value for s in at.subheader]
        toggle = next(t for t in at.toggle if t.label == "Suppress small cells (<11)")
        assert toggle.value is True
        assert [t.label for t in at.text_input] == ["Clinic name on the cover"]
