"""Controlled vocabularies: the spellings clinic staff type, mapped to canonical codes.

Matching ignores case, spaces and punctuation ("IV-infusion", "iv infusion" and "I.V. Infusion"
are one spelling) and a trailing plural "s" ("headaches"). A route or effect that is not listed
is then reduced by one rule, and the reduced form looked up among the listed spellings reduced
the same way (:func:`reduced_key`): doses and other numbers are dropped ("Spravato 56mg",
"Spravato 84 mg"), words that only qualify the finding ("felt", "mild", "patient reports")
are dropped, plural and adjective endings are cut ("headaches", "dizziness"/"dizzy"), and word
order is ignored ("Ketamine IV infusion"). A bracketed part is read as a second name for the
same thing: "Esketamine (Spravato)" is known when both parts, or the only part that is
known, name one code. A reduced form shared by two codes is left out, so the rule never
decides between two codes; what it cannot match is reported as unknown, never guessed. A
clinic can map its own spellings with ``extra`` (a saved value map), which wins over the
built-in list.

Choices made here:

- Routes: "nasal spray" alone means esketamine (Spravato), the approved nasal product; racemic
  ketamine sprays are compounded and recorded as such ("compounded nasal ketamine"). "Nasal",
  "intranasal", "ketamine" and "ketamine nasal spray" alone are ambiguous and reported unknown.
- Effects: the adverse reactions of the Spravato label (short-term trials), the common acute
  effects of IV ketamine (Short et al. 2018, Lancet Psychiatry 5:65), and urinary symptoms
  (ketamine-associated cystitis). "High" alone is unknown (blood pressure or euphoria?).
  "Nausea/vomiting" (one cell naming both) is nausea: a cell holds one effect, vomiting comes
  with nausea, and counting it as vomiting would report the rarer, worse effect for every
  such row. A clinic that records vomiting this way maps the spelling to ``vomiting``.
- Severity: mild / moderate / severe; the numbers 1, 2 and 3 as CTCAE grades 1-3 (mild,
  moderate, severe). Grades 4-5 are life-threatening or fatal: record them as serious, not as a
  severity, so "4" and "5" are unknown.
- Phase: induction / maintenance. "Acute", "initial", "loading" and "initial series" mean
  induction; "continuation" and "booster" mean maintenance. "Taper" is unknown: a clinic that
  uses it maps it with ``extra``.

References
----------
.. [1] SPRAVATO (esketamine) nasal spray, prescribing information, Janssen, section 6.1.
.. [2] Short B, Fong J, Galvez V, et al. (2018). Side-effects associated with ketamine use in
   depression: a systematic review. Lancet Psychiatry 5:65-78. doi:10.1016/S2215-0366(17)30272-9
.. [3] Common Terminology Criteria for Adverse Events (CTCAE) v5.0, US NCI, 2017.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "EFFECTS",
    "PHASES",
    "ROUTES",
    "SEVERITIES",
    "describe_vocabulary",
    "distinct_codes",
    "fold",
    "normalise_effect",
    "normalise_phase",
    "normalise_route",
    "normalise_severity",
    "normalise_yes_no",
    "reduced_key",
]

ROUTES: dict[str, str] = {
    "iv_ketamine": "IV ketamine",
    "esketamine_nasal": "Esketamine nasal spray (Spravato)",
    "im_ketamine": "IM ketamine",
    "oral_ketamine": "Oral/sublingual ketamine",
    "ketamine_nasal": "Racemic ketamine nasal spray",
}

_ROUTE_SPELLINGS: dict[str, list[str]] = {
    "iv_ketamine": [
        "IV",
        "IV ketamine",
        "ketamine IV",
        "IV infusion",
        "intravenous",
        "intravenous ketamine",
        "ketamine infusion",
        "infusion",
        "IV ketamine infusion",
        "IV ketamine infusions",
        "ketamine intravenous",
    ],
    "esketamine_nasal": [
        "Spravato",
        "esketamine",
        "esketamine nasal spray",
        "esketamine nasal",
        "nasal spray",
        "intranasal esketamine",
        "esketamine intranasal",
        "IN esketamine",
        "ESK",
        "Spravato nasal spray",
        "esketamine nasal spray Spravato",
    ],
    "im_ketamine": [
        "IM",
        "IM ketamine",
        "ketamine IM",
        "intramuscular",
        "intramuscular ketamine",
        "IM injection",
        "intramuscular injection",
    ],
    "oral_ketamine": [
        "oral",
        "oral ketamine",
        "sublingual",
        "sublingual ketamine",
        "SL",
        "SL ketamine",
        "troche",
        "troches",
        "lozenge",
        "ketamine troche",
        "ketamine lozenge",
        "rapid dissolve tablet",
        "RDT",
        "oral/sublingual",
        "sublingual troche",
        "oral troche",
        "ketamine sublingual",
        "oral ketamine troche",
    ],
    "ketamine_nasal": [
        "compounded nasal ketamine",
        "compounded ketamine nasal spray",
        "racemic intranasal ketamine",
        "racemic ketamine nasal spray",
        "racemic nasal ketamine",
        "intranasal racemic ketamine",
    ],
}

EFFECTS: dict[str, str] = {
    # Spravato label, short-term trials (see the clinical reference).
    "dissociation": "Dissociation",
    "dizziness": "Dizziness",
    "nausea": "Nausea",
    "sedation": "Sedation",
    "vertigo": "Vertigo",
    "headache": "Headache",
    "dysgeusia": "Dysgeusia (taste disturbance)",
    "hypoesthesia": "Hypoesthesia (numbness)",
    "anxiety": "Anxiety",
    "lethargy": "Lethargy",
    "blood_pressure_increased": "Blood pressure increased",
    "vomiting": "Vomiting",
    "feeling_drunk": "Feeling drunk",
    # Common with IV ketamine (Short et al. 2018) and otherwise recorded by clinics.
    "blurred_vision": "Blurred vision",
    "fatigue": "Fatigue",
    "paresthesia": "Paresthesia (tingling)",
    "euphoria": "Euphoria",
    "tachycardia": "Tachycardia",
    "hallucination": "Hallucination",
    "confusion": "Confusion",
    "dry_mouth": "Dry mouth",
    "urinary_symptoms": "Urinary symptoms",
}

_EFFECT_SPELLINGS: dict[str, list[str]] = {
    "dissociation": [
        "dissociative",
        "dissociative symptoms",
        "dissociated",
        "derealization",
        "derealisation",
        "depersonalization",
        "depersonalisation",
        "out of body",
        "out of body experience",
        "feeling detached",
    ],
    "dizziness": ["dizzy", "lightheaded", "lightheadedness", "light headed"],
    "nausea": [
        "nauseous",
        "nauseated",
        "queasy",
        "nausea/vomiting",
        "nausea and vomiting",
        "nausea & vomiting",
        "N/V",
    ],
    "sedation": [
        "sedated",
        "sleepy",
        "sleepiness",
        "drowsy",
        "drowsiness",
        "somnolence",
        "somnolent",
    ],
    "vertigo": ["room spinning", "spinning sensation"],
    "headache": ["head ache", "head pain", "headachy"],
    "dysgeusia": [
        "taste disturbance",
        "metallic taste",
        "bad taste",
        "altered taste",
        "taste change",
        "bitter taste",
    ],
    "hypoesthesia": ["hypoaesthesia", "hypesthesia", "numbness", "numb", "oral hypoesthesia"],
    "anxiety": ["anxious", "nervousness", "nervous"],
    "lethargy": ["lethargic", "sluggish", "sluggishness"],
    "blood_pressure_increased": [
        "blood pressure increase",
        "increased blood pressure",
        "hypertension",
        "hypertensive",
        "high BP",
        "BP high",
        "high blood pressure",
        "elevated blood pressure",
        "elevated BP",
        "BP elevated",
        "BP elevation",
        "BP increase",
        "BP increased",
        "increased BP",
        "raised blood pressure",
        "raised BP",
        "blood pressure elevation",
        "blood pressure raised",
    ],
    "vomiting": ["vomit", "vomited", "throwing up", "threw up", "emesis"],
    "feeling_drunk": ["drunk", "feeling intoxicated", "intoxicated", "inebriated"],
    "blurred_vision": ["blurry vision", "vision blurred", "visual blurring", "blurred eyesight"],
    "fatigue": ["tired", "tiredness", "exhaustion", "exhausted"],
    "paresthesia": ["paraesthesia", "tingling", "pins and needles"],
    "euphoria": ["euphoric", "euphoric mood"],
    "tachycardia": [
        "fast heart rate",
        "heart racing",
        "racing heart",
        "increased heart rate",
        "elevated heart rate",
        "heart rate increased",
    ],
    "hallucination": ["visual hallucination", "seeing things"],
    "confusion": ["confused", "disorientation", "disoriented", "confusional state"],
    "dry_mouth": ["xerostomia", "mouth dry"],
    "urinary_symptoms": [
        "urinary frequency",
        "urinary urgency",
        "frequent urination",
        "dysuria",
        "bladder pain",
        "cystitis",
    ],
}

SEVERITIES: dict[str, str] = {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"}
_SEVERITY_SPELLINGS = {
    "mild": ["1", "grade 1", "mild severity"],
    "moderate": ["2", "grade 2", "mod"],
    "severe": ["3", "grade 3", "sev"],
}

PHASES: dict[str, str] = {"induction": "Induction", "maintenance": "Maintenance"}
_PHASE_SPELLINGS = {
    "induction": [
        "induction phase",
        "acute",
        "acute phase",
        "initial",
        "initial series",
        "loading",
    ],
    "maintenance": ["maintenance phase", "continuation", "booster", "boosters"],
}

_YES_NO_SPELLINGS = {
    True: ["yes", "y", "true", "t", "1", "1.0", "present", "checked"],
    False: ["no", "n", "false", "f", "0", "0.0", "absent", "unchecked"],
}


def fold(value: str) -> str:
    """A spelling reduced for matching: accents, case, spaces and punctuation removed.

    Examples
    --------
    >>> fold("I.V. Infusion")
    'ivinfusion'
    """
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]", "", plain.lower())


def _lookup(labels: dict, spellings: dict) -> dict[str, object]:
    table: dict[str, object] = {}
    for code, label in labels.items():
        for spelling in [str(code), label, *spellings.get(code, [])]:
            table[fold(spelling)] = code
    return table


# Words that say nothing about which route or effect it was: dropped by reduced_key.
_ROUTE_FILLER = frozenset(
    "route of administration administered via by the given dose doses dosing treatment "
    "session sessions mg mgs mcg ug ml kg x device devices".split()
)
_EFFECT_FILLER = frozenset(
    "felt feel feels feeling c o complained complains complaint complaining of reports "
    "reported report reporting patient pt pts some slight slightly very mild mildly moderate "
    "moderately severe severely a an the bit little after during session post treatment with "
    "and dose x times".split()
)
# Plural and adjective endings, cut until none is left ("lightheadedness" -> "lighthead").
_ENDINGS = (("iness", "y"), ("ness", ""), ("ies", "y"), ("ed", ""), ("ing", ""), ("s", ""))
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?\s*(?:mg/kg|mg|mcg|ug|ml|g|%)?")
_BRACKETED = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")


def _stem(word: str) -> str:
    while True:
        for ending, replacement in _ENDINGS:
            cut = word[: len(word) - len(ending)] + replacement
            if word.endswith(ending) and len(cut) >= 3:
                # a final "s" after s, u or i is not a plural: "nauseous", "emesis"
                if ending == "s" and word[-2:-1] in ("s", "u", "i"):
                    continue
                word = cut
                break
        else:
            return word


def reduced_key(value: str, filler: frozenset[str] = _EFFECT_FILLER) -> str:
    """A spelling reduced to the words that name the thing: the key of the second lookup.

    Accents and case go; dots go ("I.V." is "iv"); numbers with their unit go ("56mg",
    "0.5 mg/kg"); ``filler`` words go; each word loses its plural and adjective endings; the
    words are sorted, so their order does not count.

    Examples
    --------
    >>> reduced_key("Felt dizzy"), reduced_key("dizziness")
    ('dizzy', 'dizzy')
    >>> reduced_key("Ketamine I.V. infusion 40mg", _ROUTE_FILLER)
    'infusion iv ketamine'
    """
    plain = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode().lower()
    plain = _NUMBER.sub(" ", plain.replace(".", ""))
    words = {_stem(w) for w in re.split(r"[^0-9a-z]+", plain) if w and w not in filler}
    return " ".join(sorted(words))


def _reduced_lookup(table: dict[str, object], filler: frozenset[str]) -> dict[str, object]:
    """{reduced key -> code} of the spellings of ``table``; a key two codes share is left out,
    so the reduction never chooses between codes."""
    out: dict[str, object] = {}
    shared: set[str] = set()
    for spelling, code in table.items():
        key = reduced_key(spelling, filler)
        if not key:
            continue
        if key in out and out[key] != code:
            shared.add(key)
        out.setdefault(key, code)
    return {k: v for k, v in out.items() if k not in shared}


def _reduced_code(value: str, lookups: tuple[dict, ...], filler: frozenset[str]):
    """The code of ``value`` by its reduced form, or NA: the whole value, else every part of it
    (outside and inside brackets) naming the same code."""

    def find(text: str):
        key = reduced_key(text, filler)
        for lookup in lookups:
            if key in lookup:
                return lookup[key]
        return None if key else ""

    whole = find(value)
    if whole not in (None, ""):
        return whole
    inside = [a or b for a, b in _BRACKETED.findall(value)]
    if not inside:
        return pd.NA
    parts = [find(part) for part in [_BRACKETED.sub(" ", value), *inside]]
    named = {code for code in parts if code != ""}
    if len(named) == 1 and None not in named:
        return named.pop()
    return pd.NA


_ROUTE_LOOKUP = _lookup(ROUTES, _ROUTE_SPELLINGS)
_EFFECT_LOOKUP = _lookup(EFFECTS, _EFFECT_SPELLINGS)
_SEVERITY_LOOKUP = _lookup(SEVERITIES, _SEVERITY_SPELLINGS)
_PHASE_LOOKUP = _lookup(PHASES, _PHASE_SPELLINGS)
# "1.0" must not fold to "10": yes/no keeps dots and matches on trimmed lower case.
_YES_NO_LOOKUP = {s: flag for flag, spellings in _YES_NO_SPELLINGS.items() for s in spellings}
# The spellings as listed (not folded): reduced_key needs the words apart.
_ROUTE_REDUCED = _reduced_lookup(
    {s: c for c, label in ROUTES.items() for s in [c, label, *_ROUTE_SPELLINGS.get(c, [])]},
    _ROUTE_FILLER,
)
_EFFECT_REDUCED = _reduced_lookup(
    {s: c for c, label in EFFECTS.items() for s in [c, label, *_EFFECT_SPELLINGS.get(c, [])]},
    _EFFECT_FILLER,
)


def _check_extra(extra: dict | None, codes, kind: str) -> dict:
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of spelling -> {kind} code, got {type(extra)}")
    for spelling, code in extra.items():
        if code not in codes:
            raise ValueError(
                f"extra maps {spelling!r} to {code!r}, which is not a {kind} code; "
                f"use one of {sorted(codes, key=str)}"
            )
    return extra


def _normalise(
    values: pd.Series,
    lookup: dict,
    extra: dict,
    key,
    plural: bool,
    dtype: str,
    reduced: tuple[dict, frozenset[str]] | None = None,
) -> tuple[pd.Series, pd.Series]:
    if not isinstance(values, pd.Series):
        raise TypeError(f"values must be a pandas Series, got {type(values).__name__}")
    mine = {key(str(s)): c for s, c in extra.items()}
    if reduced is not None:
        built_in, filler = reduced
        lookups = (_reduced_lookup({str(s): c for s, c in extra.items()}, filler), built_in)

    def one(value: str):
        k = key(value)
        for candidate in (k, k[:-1] if plural and k.endswith("s") else None):
            if candidate is None:
                continue
            if candidate in mine:
                return mine[candidate]
            if candidate in lookup:
                return lookup[candidate]
        if reduced is not None:
            return _reduced_code(value, lookups, filler)
        return pd.NA

    # Each distinct spelling is resolved once, then spread by integer codes: mapping millions
    # of Arrow-backed strings through a dict walks Python objects. The raw cells are hashed in
    # Arrow; stripping and blanking then run on the distinct values alone.
    positions, distinct = distinct_codes(values.astype("string"))
    text = distinct.str.strip()
    text = text.where(text != "")
    table = pd.Series(
        [pd.NA if pd.isna(value) else one(value) for value in text], dtype=object
    ).astype(dtype)
    unknown_table = (text.notna() & table.isna()).to_numpy(dtype=bool)
    codes = pd.Series(table.array.take(positions), index=values.index, name=values.name)
    unknown = pd.Series(unknown_table[positions], index=values.index, name=values.name)
    return codes, unknown


def distinct_codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes of ``values`` and its distinct values, a missing value being one of them.

    ``distinct.array.take(codes)`` rebuilds ``values``. Arrow-backed text is hashed in Arrow
    (``unique`` and ``index_in``), without a trip through Python objects; anything else goes
    through ``pd.factorize``.

    Parameters
    ----------
    values : pandas.Series
        Any column; text is the case this is made for.

    Returns
    -------
    codes : numpy.ndarray
        One int64 position into ``distinct`` per value.
    distinct : pandas.Series
        The distinct values (missing included, when present), of the dtype of ``values``, with
        a default index.

    Examples
    --------
    >>> codes, distinct = distinct_codes(pd.Series(["b", None, "b", "a"], dtype="string"))
    >>> distinct.array.take(codes).tolist()
    ['b', <NA>, 'b', 'a']
    """
    dtype = values.dtype
    if len(values) and isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arrow = values.array.__arrow_array__()
        if isinstance(arrow, pa.Array):
            arrow = pa.chunked_array([arrow])
        encoded = arrow.dictionary_encode()
        dictionary = encoded.chunk(encoded.num_chunks - 1).dictionary
        if all(chunk.dictionary.equals(dictionary) for chunk in encoded.chunks):
            # One dictionary for every chunk; a missing value gets the code after it.
            indices = pa.chunked_array([chunk.indices for chunk in encoded.chunks])
            codes = indices.fill_null(len(dictionary)) if indices.null_count else indices
            uniques = pa.concat_arrays([dictionary, pa.nulls(1, dictionary.type)])
            if not indices.null_count:
                uniques = dictionary
        else:
            uniques = pc.unique(arrow)
            codes = pc.index_in(arrow, value_set=uniques)
        codes = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)
        distinct = pd.Series(pd.array(uniques.cast(pa.large_string()), dtype=dtype), copy=False)
        return codes, distinct
    positions, uniques = pd.factorize(values)
    distinct = pd.Series(uniques, dtype=dtype)
    if (positions < 0).any():
        distinct = pd.concat([distinct, pd.Series([None], dtype=dtype)], ignore_index=True)
        positions = np.where(positions < 0, len(uniques), positions)
    return np.asarray(positions, dtype=np.int64), distinct


def normalise_route(
    values: pd.Series, extra: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Canonical route codes (:data:`ROUTES`) for the spellings in ``values``.

    Parameters
    ----------
    values : pandas.Series
        Routes as typed.
    extra : dict, optional
        The clinic's own spellings -> route code; wins over the built-in spellings.

    Returns
    -------
    codes : pandas.Series
        ``string`` dtype, same index; NA where blank or unknown.
    unknown : pandas.Series
        bool, True where a non-blank value matched nothing.

    Examples
    --------
    >>> codes, unknown = normalise_route(pd.Series(["IV infusion", "Spravato", "nasal"]))
    >>> codes.tolist(), unknown.tolist()
    (['iv_ketamine', 'esketamine_nasal', <NA>], [False, False, True])
    """
    extra = _check_extra(extra, ROUTES, "route")
    reduced = (_ROUTE_REDUCED, _ROUTE_FILLER)
    return _normalise(values, _ROUTE_LOOKUP, extra, fold, False, "string", reduced)


def normalise_effect(
    values: pd.Series, extra: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Canonical side-effect codes (:data:`EFFECTS`); as :func:`normalise_route`."""
    extra = _check_extra(extra, EFFECTS, "effect")
    reduced = (_EFFECT_REDUCED, _EFFECT_FILLER)
    return _normalise(values, _EFFECT_LOOKUP, extra, fold, True, "string", reduced)


def normalise_severity(
    values: pd.Series, extra: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """``"mild"``, ``"moderate"`` or ``"severe"``; 1-3 read as CTCAE grades; as routes."""
    extra = _check_extra(extra, SEVERITIES, "severity")
    return _normalise(values, _SEVERITY_LOOKUP, extra, fold, False, "string")


def normalise_phase(
    values: pd.Series, extra: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """``"induction"`` or ``"maintenance"``; as :func:`normalise_route`."""
    extra = _check_extra(extra, PHASES, "phase")
    return _normalise(values, _PHASE_LOOKUP, extra, fold, False, "string")


def _yes_no_key(value: str) -> str:
    return " ".join(value.split()).lower()


def normalise_yes_no(
    values: pd.Series, extra: dict[str, bool] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Yes/no answers as a nullable ``boolean`` Series, with the unknown mask.

    Accepted: yes/no, y/n, true/false, t/f, 1/0 (also 1.0/0.0), present/absent and
    checked/unchecked (REDCap checkbox labels), in any case. Blank is NA and not unknown.
    ``extra`` maps the clinic's spellings to True/False, or to "yes"/"no" as a saved value map
    (JSON text) holds them.

    Examples
    --------
    >>> flags, unknown = normalise_yes_no(pd.Series(["Yes", "0", "", "maybe"]))
    >>> flags.tolist(), unknown.tolist()
    ([True, False, <NA>, <NA>], [False, False, False, True])
    """
    if isinstance(extra, dict):
        words = {"yes": True, "no": False}
        extra = {s: words.get(c, c) if isinstance(c, str) else c for s, c in extra.items()}
    extra = _check_extra(extra, (True, False), "yes/no")
    return _normalise(values, _YES_NO_LOOKUP, extra, _yes_no_key, False, "boolean")


def describe_vocabulary() -> pd.DataFrame:
    """Every code with its label and accepted spellings, for the docs and the dashboard.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind`` ("route", "effect", "severity", "phase", "yes_no"), ``code``,
        ``label`` and ``accepted_spellings`` (the built-in spellings, joined by "; "; matching
        also ignores case, spaces and punctuation).
    """
    rows = []
    for kind, labels, spellings in (
        ("route", ROUTES, _ROUTE_SPELLINGS),
        ("effect", EFFECTS, _EFFECT_SPELLINGS),
        ("severity", SEVERITIES, _SEVERITY_SPELLINGS),
        ("phase", PHASES, _PHASE_SPELLINGS),
    ):
        for code, label in labels.items():
            listed = [code, label, *spellings.get(code, [])]
            unique = list(dict.fromkeys(listed))
            rows.append((kind, code, label, "; ".join(unique)))
    for flag, spellings in _YES_NO_SPELLINGS.items():
        rows.append(("yes_no", str(flag).lower(), "Yes" if flag else "No", "; ".join(spellings)))
    return pd.DataFrame(rows, columns=["kind", "code", "label", "accepted_spellings"])
