"""Durability in words: each median's interval with what happened to how many patients, and
the sustained response of week-4 responders counted both ways."""

from tests.app.test_pages import signed_in_app

# The sample clinic (tests/analytics/test_sample.py): 144 responders followed, 98 remitters.
MEDIAN_CAPTIONS = [
    "95% CI 56–102 days (144 patients, 67 lost their response).",
    "95% CI 45–102 days (98 patients, 51 relapsed).",
    "95% CI 7–14 days (223 patients, 158 responded).",
]
SUSTAINED = (
    "Of the patients who responded at week 4: 25 of the 31 scored at week 8 (81%) still "
    "responded; 18 of the 27 scored at week 12 (67%) still responded. Counting every week-4 "
    "responder due then, scored or not (intention to treat): 25 of 90 (28%) at week 8; 18 of 87 "
    "(21%) at week 12."
)


def test_each_median_says_what_happened_to_how_many(app_env):
    at = signed_in_app("app_pages/durability.py")
    captions = [c.value for c in at.caption]
    for caption in MEDIAN_CAPTIONS:
        assert caption in captions
    assert not any(" events" in c for c in captions)  # never "1 events"


def test_sustained_response_is_said_among_the_scored_and_among_all_due(app_env):
    at = signed_in_app("app_pages/durability.py")
    assert SUSTAINED in [c.value for c in at.caption]
