"""The dashboard's colour vocabulary: one palette per meaning, defined once for every page.

A colour says one thing across the whole app. IV ketamine is the same blue on every chart, and
that blue is never an instrument, a population or a count; observed and intention-to-treat have
a pair of their own that no route, instrument or count reuses. :mod:`charts.figures` takes every
colour it draws from here (it holds no colour literal), and ``tests/ui/test_colours.py`` fails
when two meanings share a colour, in these tables or on any figure the app draws.

Meanings and where their colours come from (all colour-blind safe):

============  ===============================================  ================================
meaning       what it colours                                  scheme
============  ===============================================  ================================
route         the treatment route, on every chart grouped by   Okabe & Ito [1]_ (6 of its 8)
              route and on the patient timeline's sessions
population    observed vs intention to treat (a dark and a      Tol medium-contrast [2]_,
              light of one hue: the same rate counted two      its yellow pair
              ways)
instrument    a questionnaire's line on the patient timeline   Tol muted [2]_ (6 of 9), each
              (PCL-5, PHQ-9, ...)                              with its own marker too
activity      new patients and sessions on the Activity chart  Tol muted [2]_ (green, teal)
event         side effects marked on the patient timeline      Tol vibrant red [2]_, the only
                                                               red meaning "look here"
group         any other grouping (site, severity band, ...);   Tol bright [2]_ (6 of 7)
              grouping by route uses the route colours
neutral       all patients together, too few patients, a       greys and black, one per role
              published reference, a cut-point
============  ===============================================  ================================

Tol's and Okabe-Ito's schemes overlap in hue (both have a blue), so meanings that sit on the
same chart are also told apart by shape: instruments are lines with their own marker, sessions
are ticks, side effects crosses, references grey diamonds on a dotted line, cut-points dashed.

References
----------
.. [1] Okabe M, Ito K (2008). Color Universal Design (CUD): how to make figures and
   presentations that are friendly to colorblind people. https://jfly.uni-koeln.de/color/
.. [2] Tol P (2021). Colour schemes. SRON technical note SRON/EPS/TN/09-002, issue 3.2.
   https://personal.sron.nl/~pault/
"""

from __future__ import annotations

import re

__all__ = [
    "ACTIVITY",
    "ALL_PATIENTS_COLOUR",
    "CUT_COLOUR",
    "EVENT",
    "GROUP_PALETTE",
    "INK",
    "INK_SOFT",
    "INSTRUMENT",
    "INSTRUMENT_SYMBOLS",
    "MEANINGS",
    "PAPER",
    "POPULATION",
    "REFERENCE_COLOUR",
    "ROUTE",
    "SMALL_COLOUR",
    "SMALL_EDGE",
    "instrument_colour",
    "instrument_symbol",
    "normalise",
    "rgba",
    "text_on",
]

# Okabe & Ito (2008): blue, vermillion, bluish green, reddish purple, orange, sky blue. Their
# yellow (#F0E442) is too pale for a line on white and their black is the cut-point's.
ROUTE = {
    "iv_ketamine": "#0072B2",
    "esketamine_nasal": "#D55E00",
    "im_ketamine": "#009E73",
    "oral_ketamine": "#CC79A7",
    "sublingual_ketamine": "#E69F00",
    "intranasal_ketamine": "#56B4E9",
}

# Tol's medium-contrast scheme is made of dark/light pairs; its yellow pair is the one hue no
# route uses. Intention to treat is the light one: the same rate, counted more widely.
POPULATION = {"observed": "#997700", "itt": "#EECC66"}

# Tol's muted scheme: wine, indigo, purple, olive, cyan, rose. Teal and green are the
# activity chart's; sand is too close to the intention-to-treat yellow.
INSTRUMENT = {
    "PCL-5": "#882255",
    "PHQ-9": "#332288",
    "GAD-7": "#AA4499",
    "BDI-II": "#999933",
    "MADRS": "#88CCEE",
    "CADSS": "#CC6677",
}
# A second cue beside the hue: wine and indigo are both dark to a reader with protanopia.
INSTRUMENT_SYMBOLS = {
    "PCL-5": "circle",
    "PHQ-9": "square",
    "GAD-7": "diamond",
    "BDI-II": "triangle-up",
    "MADRS": "triangle-down",
    "CADSS": "star",
}
# An instrument the table does not know (a clinic's own scale): a grey of its own.
OTHER_INSTRUMENT = "#8c6d5a"

# Counts, not estimates: what the clinic did, from Tol's muted green and teal.
ACTIVITY = {"new_patients": "#117733", "sessions": "#44AA99"}

# Events on one patient's timeline. Sessions take their route's colour (ROUTE); a side effect
# is the one red of the app (Tol vibrant red), drawn as a cross.
EVENT = {"side_effect": "#CC3311"}

# Groups that are not routes (sites, severity bands, a clinic's own column): Tol's bright
# scheme without its grey, so a site is never read as a route. Grouping by route uses ROUTE.
GROUP_PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")

# Neutrals, one per role. Greys carry no hue, so they read the same with any colour vision.
# Everyone together (no grouping): a dark grey, no group's colour.
ALL_PATIENTS_COLOUR = "#4d4d4d"
# Too few patients to read as a result: light grey fill, hatched or outlined in a mid grey.
SMALL_COLOUR = "#c9c9c9"
SMALL_EDGE = "#8a8a8a"
# A published figure set beside the clinic's: #767676 is the lightest grey with 4.5:1
# contrast on white (WCAG 2.1, 1.4.3), so its label stays legible.
REFERENCE_COLOUR = "#767676"
# A cut-point or threshold across a chart (remission below 33, a 40 mmHg rise, 50% still
# responding): Okabe-Ito black, dashed.
CUT_COLOUR = "#000000"

# Not meanings: the ink of text, whiskers and notes, and the paper behind them.
INK = "#222222"
INK_SOFT = "#555555"
PAPER = "#ffffff"

# Every palette by meaning, for the tests and for anyone reading the vocabulary.
MEANINGS: dict[str, dict[str, str]] = {
    "route": ROUTE,
    "population": POPULATION,
    "instrument": {**INSTRUMENT, "other": OTHER_INSTRUMENT},
    "activity": ACTIVITY,
    "event": EVENT,
    "group": {f"group {i + 1}": c for i, c in enumerate(GROUP_PALETTE)},
    "neutral": {
        "all patients": ALL_PATIENTS_COLOUR,
        "too few": SMALL_COLOUR,
        "too few (edge)": SMALL_EDGE,
        "reference": REFERENCE_COLOUR,
        "cut-point": CUT_COLOUR,
    },
    "ink": {"text": INK, "notes": INK_SOFT, "paper": PAPER},
}

_NAMED = {"white": "#ffffff", "black": "#000000"}
_RGB = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*[\d.]+\s*)?\)")


def normalise(colour: str) -> str:
    """A colour as lower-case ``#rrggbb``, whatever its spelling; an rgba's alpha is dropped.

    Examples
    --------
    >>> normalise("#0072B2"), normalise("rgba(0,114,178,0.18)"), normalise("#fff")
    ('#0072b2', '#0072b2', '#ffffff')
    """
    text = str(colour).strip().lower()
    text = _NAMED.get(text, text)
    match = _RGB.fullmatch(text)
    if match:
        return "#" + "".join(f"{int(v):02x}" for v in match.groups())
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        return "#" + "".join(2 * c for c in text[1:])
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return text
    raise ValueError(f"{colour!r} is not a colour of the form #rrggbb, #rgb or rgb(a)(...)")


def rgba(colour: str, alpha: float) -> str:
    """``colour`` see-through (a CI band under its line).

    Examples
    --------
    >>> rgba("#0072B2", 0.18)
    'rgba(0,114,178,0.18)'
    """
    h = normalise(colour).lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.1, definition of relative luminance)."""
    h = normalise(colour).lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_on(colour: str) -> str:
    """The ink that reads best on a bar of ``colour``: :data:`PAPER` (white) on dark bars,
    :data:`INK` on light ones (the intention-to-treat yellow, the too-few grey).

    The choice is the one with the larger WCAG 2.1 contrast ratio.

    Examples
    --------
    >>> text_on("#0072B2") == PAPER, text_on("#EECC66") == INK
    (True, True)
    """
    lum = _luminance(colour)
    on_white = (1.05) / (lum + 0.05)
    on_ink = (lum + 0.05) / (_luminance(INK) + 0.05)
    return PAPER if on_white >= on_ink else INK


def instrument_colour(name: str) -> str:
    """The colour of an instrument's line (PCL-5, PHQ-9, ...); an unknown one is brown-grey."""
    return INSTRUMENT.get(str(name), OTHER_INSTRUMENT)


def instrument_symbol(name: str) -> str:
    """The marker of an instrument's points, so a line is told apart by shape as well."""
    return INSTRUMENT_SYMBOLS.get(str(name), "circle-open")
