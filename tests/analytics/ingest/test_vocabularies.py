"""Controlled vocabularies: staff spellings to canonical codes; unknown is reported, not guessed.

Effect list: Spravato prescribing information, section 6.1 (adverse reactions in short-term
trials), and Short et al. 2018, Lancet Psychiatry 5:65 (IV ketamine).
"""

import pandas as pd
import pytest

from analytics.ingest.vocabularies import (
    EFFECTS,
    ROUTES,
    describe_vocabulary,
    fold,
    normalise_effect,
    normalise_phase,
    normalise_route,
    normalise_severity,
    normalise_yes_no,
    reduced_key,
)


def one(function, value, **kwargs):
    codes, unknown = function(pd.Series([value]), **kwargs)
    return (None if pd.isna(codes.iloc[0]) else codes.iloc[0]), bool(unknown.iloc[0])


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        # IV
        ("IV", "iv_ketamine"),
        ("iv", "iv_ketamine"),
        ("I.V.", "iv_ketamine"),
        ("IV infusion", "iv_ketamine"),
        ("IV-Infusion", "iv_ketamine"),
        ("intravenous", "iv_ketamine"),
        ("ketamine infusion", "iv_ketamine"),
        ("IV ketamine", "iv_ketamine"),
        ("iv_ketamine", "iv_ketamine"),
        # esketamine; "nasal spray" alone is Spravato, the approved nasal product
        ("Spravato", "esketamine_nasal"),
        ("SPRAVATO®", "esketamine_nasal"),
        ("esketamine", "esketamine_nasal"),
        ("esketamine nasal spray", "esketamine_nasal"),
        ("nasal spray", "esketamine_nasal"),
        ("intranasal esketamine", "esketamine_nasal"),
        ("ESK", "esketamine_nasal"),
        ("Esketamine nasal spray (Spravato)", "esketamine_nasal"),
        # IM
        ("IM", "im_ketamine"),
        ("intramuscular", "im_ketamine"),
        # oral / sublingual
        ("oral", "oral_ketamine"),
        ("sublingual", "oral_ketamine"),
        ("troche", "oral_ketamine"),
        ("lozenge", "oral_ketamine"),
        ("SL", "oral_ketamine"),
        # racemic nasal
        ("compounded nasal ketamine", "ketamine_nasal"),
        ("racemic intranasal ketamine", "ketamine_nasal"),
    ],
)
def test_route_spellings(spelling, code):
    assert one(normalise_route, spelling) == (code, False)


@pytest.mark.parametrize(
    "spelling",
    # ambiguous: which drug, or which nasal product?
    ["nasal", "intranasal", "ketamine", "ketamine nasal spray", "injection", "other"],
)
def test_ambiguous_routes_are_unknown(spelling):
    assert one(normalise_route, spelling) == (None, True)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("Nausea", "nausea"),
        ("DIZZINESS", "dizziness"),
        ("dizzy", "dizziness"),
        ("blood pressure increased", "blood_pressure_increased"),
        ("hypertension", "blood_pressure_increased"),
        ("high BP", "blood_pressure_increased"),
        ("elevated blood pressure", "blood_pressure_increased"),
        ("BP increase", "blood_pressure_increased"),
        ("raised blood pressure", "blood_pressure_increased"),
        ("sleepy", "sedation"),
        ("drowsiness", "sedation"),
        ("somnolence", "sedation"),
        ("derealization", "dissociation"),
        ("depersonalization", "dissociation"),
        ("dissociative symptoms", "dissociation"),
        ("out of body", "dissociation"),
        ("Out-of-body", "dissociation"),
        ("taste disturbance", "dysgeusia"),
        ("metallic taste", "dysgeusia"),
        ("numbness", "hypoesthesia"),
        ("throwing up", "vomiting"),
        ("emesis", "vomiting"),
        ("feeling drunk", "feeling_drunk"),
        ("blurred vision", "blurred_vision"),
        ("headaches", "headache"),
        ("Hallucinations", "hallucination"),
        ("pins and needles", "paresthesia"),
        ("dry mouth", "dry_mouth"),
    ],
)
def test_effect_spellings(spelling, code):
    assert one(normalise_effect, spelling) == (code, False)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        # brand, dose-suffixed and bracketed route spellings
        ("Spravato 56mg", "esketamine_nasal"),
        ("Spravato 84 mg", "esketamine_nasal"),
        ("Spravato 56 mg (2 devices)", "esketamine_nasal"),
        ("Esketamine (Spravato)", "esketamine_nasal"),
        ("esketamine nasal spray", "esketamine_nasal"),
        ("IV ketamine infusion", "iv_ketamine"),
        ("Ketamine IV infusion", "iv_ketamine"),
        ("Ketamine IV", "iv_ketamine"),
        ("ketamine IV 0.5 mg/kg", "iv_ketamine"),
        ("IV infusions", "iv_ketamine"),
        ("IM", "im_ketamine"),
        ("IM ketamine 50mg", "im_ketamine"),
        ("ketamine lozenge", "oral_ketamine"),
        ("Ketamine troches", "oral_ketamine"),
        ("troche", "oral_ketamine"),
        ("sublingual", "oral_ketamine"),
        ("ketamine sublingual 100 mg", "oral_ketamine"),
    ],
)
def test_reduced_route_spellings(spelling, code):
    assert one(normalise_route, spelling) == (code, False)


@pytest.mark.parametrize(
    "spelling",
    [
        # the reduction must not decide what the list leaves open
        "ketamine nasal spray 28mg",
        "nasal (compounded)",
        "IV (Spravato)",  # the two parts name two routes
        "ketamine 50 mg",
        "56mg",
    ],
)
def test_reduced_routes_stay_unknown_when_unclear(spelling):
    assert one(normalise_route, spelling) == (None, True)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("Dizzy", "dizziness"),
        ("felt dizzy", "dizziness"),
        ("Felt Dizzy.", "dizziness"),
        ("lightheadedness", "dizziness"),
        ("Nauseous", "nausea"),
        ("felt nauseous", "nausea"),
        ("mild nausea", "nausea"),
        ("nausea/vomiting", "nausea"),
        ("Nausea and vomiting", "nausea"),
        ("Drowsy", "sedation"),
        ("sleepy", "sedation"),
        ("drowsiness", "sedation"),
        ("dissociated", "dissociation"),
        ("felt dissociated", "dissociation"),
        ("high blood pressure", "blood_pressure_increased"),
        ("elevated BP", "blood_pressure_increased"),
        ("BP elevated post dose", "blood_pressure_increased"),
        ("headache", "headache"),
        ("Pt reports headaches", "headache"),
        ("Anxious", "anxiety"),
        ("feeling anxious", "anxiety"),
        ("Vomited x2", "vomiting"),
        ("tiredness", "fatigue"),
        ("Dizziness (mild)", "dizziness"),
    ],
)
def test_reduced_effect_spellings(spelling, code):
    assert one(normalise_effect, spelling) == (code, False)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        # the clinic's own spellings are reduced the same way
        ("Ket Inf 40mg", "iv_ketamine"),
        ("ket inf", "iv_ketamine"),
    ],
)
def test_extra_spellings_are_reduced_too(spelling, code):
    assert one(normalise_route, spelling, extra={"Ket Inf": "iv_ketamine"}) == (code, False)


def test_reduced_key():
    assert reduced_key("Felt dizzy") == reduced_key("dizziness") == "dizzy"
    assert reduced_key("  Headaches!! ") == "headache"
    assert reduced_key("56 mg") == ""


@pytest.mark.parametrize(
    "spelling", ["high", "felt weird", "other", "dizzy (headache)", "felt", "nausea, headache"]
)
def test_unknown_effects(spelling):
    assert one(normalise_effect, spelling) == (None, True)


def test_every_spravato_label_reaction_has_a_code():
    # Spravato PI section 6.1, reactions listed in the clinical reference.
    label = [
        "dissociation", "dizziness", "nausea", "sedation", "vertigo", "headache", "dysgeusia",
        "hypoesthesia", "anxiety", "lethargy", "blood pressure increased", "vomiting",
        "feeling drunk",
    ]  # fmt: skip
    codes, unknown = normalise_effect(pd.Series(label))
    assert not unknown.any()
    assert set(codes) <= set(EFFECTS)


def test_extra_map_wins_and_is_folded():
    codes, unknown = normalise_route(
        pd.Series(["Nasal", "IV", "ketamine"]),
        extra={"nasal": "ketamine_nasal", "IV": "im_ketamine"},
    )
    assert codes.tolist() == ["ketamine_nasal", "im_ketamine", pd.NA]
    assert unknown.tolist() == [False, False, True]


def test_extra_must_map_to_a_code():
    with pytest.raises(ValueError, match=r"^extra maps 'nasal' to 'nose', which is not a route"):
        normalise_route(pd.Series(["nasal"]), extra={"nasal": "nose"})


def test_blank_is_na_not_unknown_and_index_kept():
    values = pd.Series(["IV", None, "  ", "nasal", "iv"], index=[10, 11, 12, 13, 14])
    codes, unknown = normalise_route(values)
    assert codes.dtype == "string"
    assert unknown.dtype == bool
    assert list(codes.index) == [10, 11, 12, 13, 14]
    assert codes.isna().tolist() == [False, True, True, True, False]
    assert unknown.tolist() == [False, False, False, True, False]


@pytest.mark.parametrize(
    ("spelling", "flag"),
    [
        ("yes", True),
        ("Y", True),
        ("TRUE", True),
        ("1", True),
        ("1.0", True),
        ("present", True),
        ("Checked", True),
        ("no", False),
        ("N", False),
        ("false", False),
        ("0", False),
        ("0.0", False),
        ("absent", False),
        ("Unchecked", False),
    ],
)
def test_yes_no(spelling, flag):
    flags, unknown = normalise_yes_no(pd.Series([spelling]))
    assert flags.dtype == "boolean"
    assert flags.iloc[0] == flag and not unknown.iloc[0]


def test_yes_no_extra_as_saved_words():
    flags, unknown = normalise_yes_no(pd.Series(["Oui", "Non"]), extra={"oui": "yes", "Non": "no"})
    assert flags.tolist() == [True, False] and not unknown.any()


@pytest.mark.parametrize("spelling", ["maybe", "2", "10", "yes?"])
def test_yes_no_unknown(spelling):
    flags, unknown = normalise_yes_no(pd.Series([spelling]))
    assert pd.isna(flags.iloc[0]) and unknown.iloc[0]


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("Mild", "mild"),
        ("MODERATE", "moderate"),
        ("severe", "severe"),
        # CTCAE v5.0 grades 1-3
        ("1", "mild"),
        ("2", "moderate"),
        ("grade 3", "severe"),
        # grades 4-5 are serious events, not a severity
        ("4", None),
        ("0", None),
    ],
)
def test_severity(spelling, code):
    assert one(normalise_severity, spelling) == (code, code is None)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("induction", "induction"),
        ("Acute", "induction"),
        ("initial series", "induction"),
        ("Maintenance", "maintenance"),
        ("booster", "maintenance"),
        ("taper", None),
    ],
)
def test_phase(spelling, code):
    assert one(normalise_phase, spelling) == (code, code is None)


def test_phase_extra():
    assert one(normalise_phase, "taper", extra={"taper": "maintenance"}) == ("maintenance", False)


def test_values_must_be_a_series():
    with pytest.raises(TypeError, match=r"^values must be a pandas Series, got list$"):
        normalise_route(["IV"])


def test_maps_unique_values_only():
    values = pd.Series(["IV", "Spravato", "IM"] * 100_000)
    codes, unknown = normalise_route(values)
    assert codes.value_counts().to_dict() == {
        "iv_ketamine": 100_000,
        "esketamine_nasal": 100_000,
        "im_ketamine": 100_000,
    }
    assert not unknown.any()


def test_describe_vocabulary_lists_every_code():
    table = describe_vocabulary()
    assert list(table.columns) == ["kind", "code", "label", "accepted_spellings"]
    assert set(table.loc[table["kind"] == "route", "code"]) == set(ROUTES)
    assert set(table.loc[table["kind"] == "effect", "code"]) == set(EFFECTS)
    assert set(table["kind"]) == {"route", "effect", "severity", "phase", "yes_no"}
    row = table.set_index("code").loc["esketamine_nasal"]
    assert "nasal spray" in row["accepted_spellings"].split("; ")


def test_fold():
    assert fold("  Blood-Pressure  Increased ") == "bloodpressureincreased"
    assert fold("Nausée") == "nausee"
