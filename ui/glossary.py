"""The glossary: every word and rule the dashboard uses, in plain language, with its source.

Each :class:`Term` says what a word means in one to three sentences a psychiatrist reads at a
glance, then what it means *in this dashboard*, with the numbers read from the analytics (the
response rule, the remission cut-point, the reliable-change parameters, the blood-pressure
thresholds...), never typed a second time, and the published source it rests on.

:data:`TERMS` holds the terms with the default definitions; :func:`glossary_terms` builds them for
the definitions a user has chosen on the Settings page. Other pages link a term with
:func:`glossary_link` (``"glossary#remission"``). ``docs/glossary.md`` is
:func:`glossary_markdown` written out (``python -m ui.glossary > docs/glossary.md``), and a test
keeps the two equal.

Examples
--------
>>> glossary_link("remission")
'glossary#remission'
>>> glossary_link("ITT")
'glossary#intention-to-treat'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.instruments import INSTRUMENTS
from analytics.core.stats import MIN_N_FOR_INTERVAL
from analytics.ingest.schemas import BOUNDS
from analytics.ingest.scoring import MAX_PRORATED_MISSING
from analytics.metrics.durability import ANCHOR, LATER
from analytics.metrics.groups import SMALL_GROUP
from analytics.metrics.outcomes import Z_RCI, reliable_change_threshold
from analytics.metrics.safety.settings import SafetySettings

__all__ = [
    "GLOSSARY_PAGE",
    "GLOSSARY_URL_PATH",
    "GROUPS",
    "TERMS",
    "TERM_PARAMETER",
    "Term",
    "UnknownTermError",
    "find_term",
    "glossary_link",
    "glossary_markdown",
    "glossary_page_link",
    "glossary_links",
    "glossary_terms",
    "matching_terms",
]

# The url_path the router gives the glossary page; links are relative to the app's root.
GLOSSARY_URL_PATH = "glossary"
# The page's script, for st.page_link and st.switch_page; its ``?term=`` query parameter (an
# anchor) opens the page with that term shown first.
GLOSSARY_PAGE = "app_pages/glossary.py"
TERM_PARAMETER = "term"

# The headings the terms are grouped under, in page order.
GROUPS = (
    "Scales and timepoints",
    "Outcomes",
    "Who is counted",
    "How sure a number is",
    "Time to an event",
    "Safety",
    "Using the dashboard",
)

# A baseline SD to show the reliable-change threshold with: the clinical reference's example
# (the dashboard itself uses the cohort's baseline SD unless one is set).
_EXAMPLE_SD = 14.0


class UnknownTermError(KeyError):
    """A page asked for a term the glossary does not have."""

    def __init__(self, term: str, known: Iterable[str]):
        self.term = term
        super().__init__(f"no glossary term {term!r}; terms are {sorted(known)}")

    def __str__(self) -> str:  # KeyError would quote the whole message again
        return self.args[0]


@dataclass(frozen=True)
class Term:
    """One glossary entry.

    Attributes
    ----------
    term : str
        The word as a heading ("Intention to treat (ITT)").
    anchor : str
        The heading's anchor, lower case with hyphens ("intention-to-treat").
    group : str
        One of :data:`GROUPS`.
    definition : str
        What the word means, in one to three plain sentences.
    in_dashboard : str
        The rule this dashboard applies, with its numbers read from the analytics.
    source : str
        Where the definition comes from: authors, year and title ("Our default" where the
        choice is the dashboard's).
    aliases : tuple of str
        Other names a page or a search may use ("ITT", "completers").
    """

    term: str
    anchor: str
    group: str
    definition: str
    in_dashboard: str
    source: str
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", self.anchor):
            raise ValueError(
                f"anchor must be lower-case words joined by hyphens, got {self.anchor!r}"
            )
        if self.group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}, got {self.group!r}")

    def text(self) -> str:
        """Everything a search looks through, in one string."""
        return " ".join((self.term, *self.aliases, self.definition, self.in_dashboard, self.source))


def _n(value: float) -> str:
    """A threshold as people write it: 33, 0.82, 16.5."""
    return f"{value:g}"


def _rule_words(definitions: OutcomeDefinitions) -> str:
    """The response rule on the instrument: "a PCL-5 score at least 30% below baseline"."""
    rule, name = definitions.response, definitions.instrument
    if rule.kind == "pct":
        return f"a {name} score at least {_n(rule.threshold)}% below the baseline score"
    return f"a {name} score at least {_n(rule.threshold)} points below the baseline score"


def _worsening_words(definitions: OutcomeDefinitions) -> str:
    rule = definitions.response
    if rule.kind == "pct":
        return f"up by at least {_n(rule.threshold)}% of the baseline score"
    return f"up by at least {_n(rule.threshold)} points"


def _timepoints(definitions: OutcomeDefinitions) -> str:
    return ", ".join(w.label for w in definitions.windows)


def _window_of(definitions: OutcomeDefinitions, label: str) -> str:
    for window in definitions.windows:
        if window.label == label:
            return f"days {window.low}-{window.high}"
    return "its window"


def glossary_terms(
    pcl5: OutcomeDefinitions | None = None,
    phq9: OutcomeDefinitions | None = None,
    safety: SafetySettings | None = None,
) -> list[Term]:
    """The glossary's terms, in page order, with the numbers of the definitions in force.

    Parameters
    ----------
    pcl5, phq9 : OutcomeDefinitions or None
        The outcome definitions of the PCL-5 and of the PHQ-9 (the Settings page's choices);
        None takes the analytics' defaults.
    safety : SafetySettings or None
        The blood-pressure thresholds and session bands; None takes the defaults.

    Returns
    -------
    list of Term
        Ordered by :data:`GROUPS`, then as a reader meets them.

    Raises
    ------
    ValueError
        When ``pcl5`` or ``phq9`` is the definitions of another instrument.
    """
    pcl5 = OutcomeDefinitions.for_instrument("PCL-5") if pcl5 is None else pcl5
    phq9 = OutcomeDefinitions.for_instrument("PHQ-9") if phq9 is None else phq9
    safety = SafetySettings() if safety is None else safety
    for expected, given in (("PCL-5", pcl5), ("PHQ-9", phq9)):
        if given.instrument != expected:
            raise ValueError(f"expected the {expected} definitions, got {given.instrument!r}'s")
    pcl, phq = INSTRUMENTS["PCL-5"], INSTRUMENTS["PHQ-9"]
    bp = safety.bp
    cut, floor = pcl5.remission_below, pcl5.remission_requires_baseline_at_or_above
    r = pcl5.reliability_r
    sd = pcl5.reliability_sd
    sd_words = (
        "the standard deviation of the cohort's baseline scores"
        if sd is None
        else f"a baseline standard deviation of {_n(sd)} points (set in Settings)"
    )
    example_sd = _EXAMPLE_SD if sd is None else sd
    threshold = reliable_change_threshold(example_sd, r)
    cadss_low, cadss_high = BOUNDS["dissociation_cadss"]
    ci = (
        "Wilson score interval"
        if pcl5.ci_method == "wilson"
        else "Clopper-Pearson (exact) interval"
    )
    later = " and ".join(LATER)
    return [
        # ------------------------------------------------------------ scales and timepoints
        Term(
            "PCL-5 (PTSD Checklist for DSM-5)",
            "pcl-5",
            "Scales and timepoints",
            "A self-report questionnaire of the 20 DSM-5 PTSD symptoms, each rated from 0 (not "
            "at all) to 4 (extremely). Higher totals mean more severe PTSD symptoms.",
            f"The total is the sum of the {pcl.n_items} items, {pcl.total_min}-{pcl.total_max}; "
            "a total needs every item, unless the import was set to prorate one with at most "
            f"{MAX_PRORATED_MISSING} missing (marked as prorated). A total of "
            f"{_n(pcl.remission_below)} or more is the probable-PTSD range. The symptom "
            "clusters are B intrusions (items 1-5), C avoidance "
            "(6-7), D negative thoughts and mood (8-14) and E arousal and reactivity (15-20).",
            "Blevins CA, Weathers FW, Davis MT, Witte TK, Domino JL (2015). The Posttraumatic "
            "Stress Disorder Checklist for DSM-5 (PCL-5): development and initial psychometric "
            "evaluation. J Trauma Stress 28:489-498. Bovin MJ et al. (2016). Psychometric "
            "properties of the PTSD Checklist for DSM-5 (PCL-5) in veterans. Psychol Assess "
            "28:1379-1391.",
            ("PCL5", "PTSD Checklist"),
        ),
        Term(
            "PHQ-9 (Patient Health Questionnaire-9)",
            "phq-9",
            "Scales and timepoints",
            "A self-report questionnaire of the 9 DSM symptoms of depression over the last two "
            "weeks, each rated from 0 (not at all) to 3 (nearly every day). Item 9 asks about "
            "thoughts of self-harm.",
            f"The total is {phq.total_min}-{phq.total_max}; severity bands start at "
            + ", ".join(f"{_n(low)} ({label})" for low, label in phq.severity_bands[1:])
            + f". Response is {_rule_words(phq9)}; remission is a total below "
            f"{_n(phq9.remission_below)}.",
            "Kroenke K, Spitzer RL, Williams JB (2001). The PHQ-9: validity of a brief "
            "depression severity measure. J Gen Intern Med 16:606-613.",
            ("PHQ9", "depression"),
        ),
        Term(
            "Baseline",
            "baseline",
            "Scales and timepoints",
            "The score before treatment started, against which every later score is compared.",
            f"The latest complete score from {pcl5.baseline_lookback_days} days before the first "
            "session up to the day of the first session (day 0, before the dose). A patient "
            "without one is left out of the outcome figures.",
            "Our default.",
            ("pre-dose", "day 0"),
        ),
        Term(
            "Timepoint (24 hours, week 4...)",
            "timepoint",
            "Scales and timepoints",
            "A fixed moment after the first treatment at which outcomes are compared, so that "
            "patients assessed on slightly different days can be counted together.",
            f"The timepoints are {_timepoints(pcl5)}. Each takes the score nearest its target "
            f"day inside a window (week 4: {_window_of(pcl5, 'week 4')} after the first "
            "session); the 24-hour timepoint is the day after the first session. The windows "
            "can be changed in Settings.",
            "Our default (windows of ±3 days for weeks 1-3 and ±7 days from week 4).",
            ("window", "week 4", "24h"),
        ),
        # ------------------------------------------------------------------------ outcomes
        Term(
            "Response",
            "response",
            "Outcomes",
            "A large enough drop in symptoms from the start of treatment. It is a yes/no for "
            "each patient at each timepoint.",
            f"For the PCL-5: {_rule_words(pcl5)}. For the PHQ-9: {_rule_words(phq9)}. The rule "
            "can be changed in Settings.",
            "Feder A et al. (2021). A randomized controlled trial of repeated ketamine "
            "administration for chronic posttraumatic stress disorder. Am J Psychiatry "
            "178:193-202 (the ≥30% rule of the ketamine PTSD literature).",
            ("responder", "response rate"),
        ),
        Term(
            "Remission",
            "remission",
            "Outcomes",
            "Symptoms low enough to be below the level of the disorder, not just improved.",
            f"A PCL-5 total below {_n(cut)} at the timepoint, counted only among patients whose "
            f"baseline was {_n(floor)} or more: a patient who starts below the cut-point cannot "
            f"remit. For the PHQ-9: a total below {_n(phq9.remission_below)}. The PCL-5 "
            "cut-point can be changed in Settings.",
            "Bovin MJ et al. (2016). Psychometric properties of the PTSD Checklist for DSM-5 "
            "(PCL-5) in veterans. Psychol Assess 28:1379-1391 (probable-PTSD cut-point 31-33).",
            ("remitter", "remission rate", "cut-point"),
        ),
        Term(
            "Clinically meaningful improvement",
            "meaningful-improvement",
            "Outcomes",
            "A drop in score big enough to matter to a patient, whatever the starting score.",
            f"A PCL-5 total at least {_n(pcl5.meaningful_points)} points below baseline, "
            "shown beside the response rate.",
            "National Center for PTSD. Using the PTSD Checklist for DSM-5 (PCL-5) (10-20 points "
            "is a clinically meaningful change).",
            ("meaningful change", "10 points"),
        ),
        Term(
            "Reliable change",
            "reliable-change",
            "Outcomes",
            "A change larger than a questionnaire's measurement error, so it is unlikely to be "
            "chance. Reliable improvement and reliable worsening are counted separately.",
            f"The Jacobson-Truax reliable change index, change divided by its standard error, "
            f"beyond ±{_n(Z_RCI)}; it uses a test-retest reliability of {_n(r)} and "
            f"{sd_words}. With a baseline SD of {_n(example_sd)} points that is a change of at "
            f"least {threshold:.1f} PCL-5 points. Both can be changed in Settings.",
            "Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to "
            "defining meaningful change in psychotherapy research. J Consult Clin Psychol "
            "59:12-19. Reliability from Blevins et al. (2015).",
            ("RCI", "Jacobson-Truax", "reliable improvement", "reliable deterioration"),
        ),
        Term(
            "Worsening (deterioration)",
            "worsening",
            "Outcomes",
            "Symptoms higher than at baseline by a margin that matters. The dashboard shows "
            "three measures side by side, each with its own rule.",
            f"Deterioration: a PCL-5 score {_worsening_words(pcl5)} (the response rule turned "
            f"round). Clinically meaningful worsening: up by at least "
            f"{_n(pcl5.meaningful_points)} points. Reliable worsening: a reliable change index "
            f"above +{_n(Z_RCI)} (see reliable change).",
            "National Center for PTSD. Using the PTSD Checklist for DSM-5 (PCL-5). Jacobson NS, "
            "Truax P (1991). Clinical significance: a statistical approach to defining "
            "meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.",
            ("deterioration", "deteriorated", "meaningful worsening", "worse"),
        ),
        Term(
            "Effect size (Cohen's d)",
            "effect-size",
            "Outcomes",
            "How big the average change is compared with how much patients differ, so that "
            "changes on different scales can be compared. As a rough guide, 0.2 is small, 0.5 "
            "medium and 0.8 large.",
            "Two versions, always named: d_z is the mean change divided by the standard "
            "deviation of the patients' changes; d_av is the mean change divided by the average "
            "of the baseline and timepoint standard deviations. d_av is the one to set beside "
            "effect sizes of studies that compare two separate groups.",
            "Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative "
            "science: a practical primer for t-tests and ANOVAs. Front Psychol 4:863. Cohen J "
            "(1988). Statistical power analysis for the behavioral sciences.",
            ("d_z", "d_av", "Cohen", "dz", "dav"),
        ),
        # ------------------------------------------------------------------ who is counted
        Term(
            "Intention to treat (ITT)",
            "intention-to-treat",
            "Who is counted",
            "Every patient who started treatment counts, whether or not they came back to be "
            "assessed. A patient with no score counts as not responding, so the rate is not "
            "flattered by those who dropped out.",
            "At each timepoint: every patient with a baseline who started treatment and was due "
            "there (see not yet due). No score in the window counts as not responding and not "
            "remitting.",
            "National Research Council (2010). The Prevention and Treatment of Missing Data in "
            "Clinical Trials. National Academies Press.",
            ("ITT", "intent to treat"),
        ),
        Term(
            "Observed (completers)",
            "observed",
            "Who is counted",
            "Only the patients who were actually assessed at the timepoint. Usually higher than "
            "the intention-to-treat rate, because patients doing badly are more likely to stop "
            "coming.",
            "Patients with a baseline and a score inside the timepoint's window. Every rate is "
            "labelled observed or intention to treat; both are shown, never mixed.",
            "National Research Council (2010). The Prevention and Treatment of Missing Data in "
            "Clinical Trials. National Academies Press.",
            ("completers", "observed cases", "assessed"),
        ),
        Term(
            "Not yet due (follow-up)",
            "not-yet-due",
            "Who is counted",
            "A patient who started too recently to have reached a timepoint. They are not "
            "counted as missing or as not responding there.",
            "Follow-up runs from the first session to the data cutoff (the latest date in the "
            "imported data, or the extract date given). A patient "
            "not scored at a timepoint whose follow-up ends before the window's last day is "
            "left out of that timepoint's intention-to-treat count and shown beside it as not "
            "yet due. Without follow-up times every patient counts as due.",
            "Our definition.",
            ("follow-up", "follow up", "due"),
        ),
        # ------------------------------------------------------------- how sure a number is
        Term(
            "95% confidence interval (CI)",
            "confidence-interval",
            "How sure a number is",
            "The range of values the data are compatible with: the clinic's true rate or mean "
            "probably lies inside it. It is wide when few patients are behind the number.",
            f"For rates: the {ci}, which behaves well with small numbers and rates near 0% or "
            f"100%. For mean scores and mean changes: the t interval, mean ± t × SD / √n; a "
            f"mean of fewer than {MIN_N_FOR_INTERVAL} patients has no interval.",
            "Wilson EB (1927). Probable inference, the law of succession, and statistical "
            "inference. J Am Stat Assoc 22:209-212. Newcombe RG (1998). Two-sided confidence "
            "intervals for the single proportion: comparison of seven methods. Stat Med "
            "17:857-872. Student (1908). The probable error of a mean. Biometrika 6:1-25.",
            ("CI", "Wilson", "t interval", "uncertainty", "error bar"),
        ),
        Term(
            "Too few patients (small numbers)",
            "too-few-patients",
            "How sure a number is",
            "A rate or mean from a handful of patients can swing widely by chance. It is still "
            "shown, with its number of patients, but drawn grey so it is not read as a firm "
            "figure.",
            f"Rates and means from fewer than {pcl5.min_patients} patients are drawn grey and "
            "labelled too few patients (Settings: Fewest patients for a solid bar). On Cohorts, "
            f"groups of fewer than {SMALL_GROUP} patients are also flagged, as the US Medicare "
            "(CMS) small-cell rule would flag them.",
            "Our default. Centers for Medicare & Medicaid Services. CMS cell size suppression "
            "policy (no published cell of 1 to 10 patients).",
            ("small numbers", "small sample", "minimum", "grey"),
        ),
        # ---------------------------------------------------------------- time to an event
        Term(
            "Kaplan-Meier curve",
            "kaplan-meier",
            "Time to an event",
            "An estimate, day by day, of the share of patients who have had an event (for "
            "example, lost their response) and of those who have not yet. It uses every "
            "patient for as long as they were "
            "followed, including those whose follow-up stopped early.",
            "Three curves: time to first response (from the first session), loss of response "
            "(from the first response) and relapse after remission (from the first remission). "
            f"The shaded band is the 95% interval ({pcl5.km_band} method, which Settings can "
            "change).",
            "Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. "
            "J Am Stat Assoc 53:457-481.",
            ("survival curve", "KM", "time to event", "loss of response", "relapse"),
        ),
        Term(
            "Censoring",
            "censoring",
            "Time to an event",
            "A patient is censored when their follow-up ends before the event was seen: all we "
            "know is that it had not happened by their last assessment. They count for as long "
            "as they were followed, neither as having the event nor as never having it.",
            "Censored at the patient's last assessment. Loss of response is the first later "
            "score that no longer meets the response rule; relapse is a score back at or above "
            f"the remission cut-point ({_n(cut)}).",
            "Clark TG, Bradburn MJ, Love SB, Altman DG (2003). Survival analysis part I: basic "
            "concepts and first analyses. Br J Cancer 89:232-238.",
            ("censored", "lost to follow-up"),
        ),
        Term(
            "Median time",
            "median-time",
            "Time to an event",
            "The time by which half the patients have had the event, read from the "
            "Kaplan-Meier curve. 'Not reached' means fewer than half had it during follow-up.",
            "In days, with its 95% interval read from the curve's band, and the number of "
            "patients and events behind it.",
            "Brookmeyer R, Crowley J (1982). A confidence interval for the median survival "
            "time. Biometrics 38:29-41.",
            ("median", "not reached", "days to"),
        ),
        Term(
            "Sustained response",
            "sustained-response",
            "Time to an event",
            "Whether patients who responded are still responding later on.",
            f"Among the responders at {ANCHOR}, the share still meeting the response rule at "
            f"{later}, observed and intention to treat (a responder who was due but not "
            "scored counts as not sustained).",
            "Our definition.",
            ("durability", "still responding"),
        ),
        # -------------------------------------------------------------------------- safety
        Term(
            "Dissociation (CADSS)",
            "dissociation",
            "Safety",
            "Feeling detached from one's body, surroundings or time, common during and shortly "
            "after a ketamine or esketamine dose and usually gone within about two hours.",
            "Counted three ways, never mixed: dissociation reported as a side effect; the "
            "session's own yes/no field (the REMS monitoring form); and the CADSS score, "
            f"{_n(cadss_low)}-{_n(cadss_high)}, a severity score that is averaged, never a rate. "
            f"Whether it wanes compares session 1 with sessions {safety.late_session} and later.",
            "Bremner JD et al. (1998). Measurement of dissociative states with the "
            "Clinician-Administered Dissociative States Scale (CADSS). J Trauma Stress "
            "11:125-136.",
            ("CADSS", "dissociative", "REMS"),
        ),
        Term(
            "Blood pressure rise",
            "blood-pressure-rise",
            "Safety",
            "Esketamine and ketamine raise blood pressure for a few hours, peaking about 40 "
            "minutes after a dose. The dashboard counts large rises and high pre-dose readings.",
            f"A rise: the peak at least {_n(bp.rise_systolic)} mmHg above the pre-dose systolic "
            f"or at least {_n(bp.rise_diastolic)} mmHg above the diastolic. High before the "
            f"dose: above {_n(bp.systolic_pre_max)}/{_n(bp.diastolic_pre_max)} mmHg "
            f"({_n(bp.systolic_pre_max_older)} systolic from age {bp.older_age}), the phase 3 "
            "trials' rule for holding the dose.",
            "Janssen Pharmaceuticals (2019, revised since). SPRAVATO (esketamine) nasal spray: "
            "prescribing information.",
            ("BP", "hypertension", "systolic", "diastolic", "mmHg"),
        ),
        # -------------------------------------------------------------- using the dashboard
        Term(
            "Cohort filters",
            "cohort-filters",
            "Using the dashboard",
            "The choices in the sidebar that narrow every number to a group of patients, such "
            "as one route or one site.",
            "By first-session year, route, site, clinician, baseline PCL-5 band and any extra "
            "column of the clinic's patient file. The filters in use are named at the top of "
            "each page and in every download.",
            "This dashboard.",
            ("filter", "cohort", "sidebar"),
        ),
    ]


TERMS: list[Term] = glossary_terms()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", str(text).lower()))


def term_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(text).lower())


def find_term(term: str, terms: Iterable[Term] = TERMS) -> Term:
    """The entry a page means by ``term``: its heading, anchor or an alias, in any case.

    Raises
    ------
    UnknownTermError
        When no entry has that name.

    Examples
    --------
    >>> find_term("Kaplan-Meier").anchor
    'kaplan-meier'
    """
    terms = list(terms)
    wanted = term_key(term)
    for entry in terms:
        names = (entry.term, entry.anchor, *entry.aliases)
        # the heading without its bracket: "Intention to treat" for "Intention to treat (ITT)"
        names += (entry.term.split(" (")[0],)
        if wanted and wanted in {term_key(name) for name in names}:
            return entry
    raise UnknownTermError(term, [entry.anchor for entry in terms])


def glossary_link(term: str) -> str:
    """The glossary page's URL at ``term``'s heading, e.g. ``"glossary#remission"``.

    Relative to the app's root, so a markdown link ``[remission](glossary#remission)`` works
    from every page and under any base path.

    Raises
    ------
    UnknownTermError
        When the glossary has no such term.
    """
    return f"{GLOSSARY_URL_PATH}#{find_term(term).anchor}"


def glossary_page_link(container, term: str, label: str | None = None):
    """A link in ``container`` to the glossary opened at ``term``, in the same browser tab.

    A markdown link (:func:`glossary_link`) opens a new tab; this one is ``st.page_link`` to
    the glossary page with ``?term=<anchor>``, which shows the term first.

    Parameters
    ----------
    container : streamlit module or DeltaGenerator
        Where to draw the link (``st``, ``st.sidebar``, a column...).
    term : str
        Any name :func:`find_term` knows.
    label : str or None
        The link's text; by default "<term> in the glossary" ("Remission in the glossary").

    Raises
    ------
    UnknownTermError
        When the glossary has no such term.
    """
    entry = find_term(term)
    return container.page_link(
        GLOSSARY_PAGE,
        label=label or f"{entry.term.split(' (')[0]} in the glossary",
        icon=":material/menu_book:",
        query_params={TERM_PARAMETER: entry.anchor},
    )


def matching_terms(query: str | None, terms: Iterable[Term] = TERMS) -> list[Term]:
    """The terms in which every word of ``query`` starts a word (any case); all when blank.

    Examples
    --------
    >>> [t.anchor for t in matching_terms("kaplan")]
    ['kaplan-meier', 'median-time']
    """
    wanted = _words(query or "")
    found = []
    for term in terms:
        words = _words(term.text())
        # a query word matches the start of a word: "censor" finds "censored", "itt" not "Witte"
        if all(any(word.startswith(w) for word in words) for w in wanted):
            found.append(term)
    return found


def glossary_markdown(terms: Iterable[Term] = TERMS) -> str:
    """The glossary as a markdown page (``docs/glossary.md``), with the default definitions."""
    terms = list(terms)
    lines = [
        "# Glossary",
        "",
        "The words and rules the dashboard uses, in plain language, with the numbers of the "
        "default definitions and their sources. The dashboard's Glossary page shows the same "
        "terms with the definitions chosen in Settings.",
        "",
        "This page is generated: `python -m ui.glossary > docs/glossary.md`.",
    ]
    for group in GROUPS:
        members = [t for t in terms if t.group == group]
        if not members:
            continue
        lines += ["", f"## {group}"]
        for t in members:
            lines += [
                "",
                f'### {t.term} <a id="{t.anchor}"></a>',
                "",
                t.definition,
                "",
                f"**In this dashboard:** {t.in_dashboard}",
                "",
                f"*Source:* {t.source}",
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(glossary_markdown(), end="")


def glossary_links(container, *terms: str) -> None:
    """Links to the glossary's entries for ``terms``, in one row of ``container`` that wraps.

    Drawn under a "How this is computed" note; each link reads the term's short name
    ("Intention to treat"), and the row wraps so no name is cut on a narrow screen.

    Raises
    ------
    UnknownTermError
        When the glossary has no such term.
    """
    row = container.container(horizontal=True, wrap=True)
    for term in terms:
        glossary_page_link(row, term, label=find_term(term).term.split(" (")[0])
