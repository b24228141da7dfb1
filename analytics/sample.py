"""A seeded synthetic ketamine and esketamine clinic: the sample the dashboard opens on.

:func:`generate_clinic` writes what a clinic would export (the upload contract, with calendar
dates and staff spellings), not the canonical frames of :mod:`analytics.core.contract`: the sample
goes through the same importer as real uploads. No real patient is in it. Every distribution is
set from a published figure listed in :data:`TARGETS`, so the outcome and safety screens have
something known to find.

The generator is vectorised over patients, sessions and forms (never a Python loop per patient)
so a benchmark can scale it to 100,000 patients.

How a patient is simulated
--------------------------
* Route: IV ketamine (about 55%: 6 infusions Mon/Wed/Fri over 2 weeks, then maintenance every
  2-6 weeks for some) or esketamine nasal spray (twice weekly for 4 weeks, weekly in weeks 5-8,
  then every 1-2 weeks), following the schedules in Feder et al. 2021 and the Spravato label.
* Trajectory class: early responder, late responder (responds after 8-12 sessions) or
  non-responder; concurrent psychotherapy shifts the odds and the size of the effect a little.
  The PCL-5 reduction grows with the number of sessions received and, for relapse-prone
  responders, holds two weeks after the last session and then wanes, falling below a 30%
  reduction about 4 weeks after the last dose (Feder 2021: median 27.5 days). A Kaplan-Meier
  median counted from the first response is much longer here (about 80 days): many responders
  stay in maintenance, and after week 4 forms come 4 weeks apart.
* Attrition: about a fifth of IV patients stop after the first infusion and about half never
  reach six; non-responders stop more often.
* Forms: PCL-5 and PHQ-9 at baseline (day -7 to 0), 24 hours, weeks 1-4, 8, 12, 16 and 24,
  answered less often late and after stopping. Items are drawn first and summed to the total.
* Safety: per-patient side-effect rates near the Spravato label; dissociation (CADSS and the
  yes/no flag) highest at the first sessions; blood pressure before and at the peak after dosing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "SAMPLES",
    "TARGETS",
    "describe_clinic",
    "generate_clinic",
    "load_sample",
    "write_clinic",
]

_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# name -> (folder under data/, one-line description)
SAMPLES: dict[str, tuple[str, str]] = {
    "clinic": (
        "sample",
        "Synthetic ketamine and esketamine clinic: 250 patients with PTSD over two years",
    ),
}

DEFAULT_SEED = 20261127
TABLE_NAMES = ("patients", "sessions", "assessments", "side_effects")

# The published figures the generation aims at; written to manifest.json.
TARGETS: tuple[dict[str, str], ...] = (
    {
        "figure": "IV ketamine induction: 6 infusions over 2 weeks (Mon/Wed/Fri)",
        "source": "Feder et al. 2021, Am J Psychiatry 178:193, doi:10.1176/appi.ajp.2020.20050596",
    },
    {
        "figure": "Esketamine: twice weekly weeks 1-4, weekly weeks 5-8, then every 1-2 weeks; "
        "56 mg on day 1, then 56 or 84 mg",
        "source": "SPRAVATO prescribing information (Janssen), Dosage and Administration",
    },
    {
        "figure": "PCL-5 about 47 -> 27-28 after 4 infusions; response (>= 30%) 27% after "
        "infusion 1 and 70% by infusion 6",
        "source": "Osmind real-world IV ketamine PTSD cohort (n = 1,306)",
    },
    {
        "figure": "Median 27.5 days to loss of response among ketamine responders",
        "source": "Feder et al. 2021, Am J Psychiatry 178:193, doi:10.1176/appi.ajp.2020.20050596",
    },
    {
        "figure": "Per-patient adverse reactions with esketamine: dissociation 41%, dizziness 29%, "
        "nausea 28%, sedation 23%, vertigo 23%, headache 20%, dysgeusia 19%, hypoesthesia 18%, "
        "anxiety 13%, lethargy 11%, blood pressure increased 10%, vomiting 9%, feeling drunk 5%",
        "source": "SPRAVATO prescribing information (Janssen), Adverse Reactions (n = 346)",
    },
    {
        "figure": "8-19% of esketamine patients with a rise of >= 40 mmHg systolic and/or "
        ">= 25 mmHg diastolic",
        "source": "SPRAVATO prescribing information (Janssen), Warnings and Precautions",
    },
    {
        "figure": "CADSS during IV ketamine: mean 7.7 (SD 9.2), resolving within about 2 hours",
        "source": "CADSS in 110 patients receiving IV ketamine (project clinical reference)",
    },
    {
        "figure": "PCL-5 item-level test-retest r = .82; probable PTSD cut-point 33",
        "source": "Blevins et al. 2015, J Trauma Stress 28:489, doi:10.1002/jts.22059; "
        "Bovin et al. 2016, Psychol Assess 28:1379, doi:10.1037/pas0000254",
    },
)

SITES = ("North", "South", "West")
_SITE_P = (0.5, 0.3, 0.2)
# Clinician codes by site (index into _CLINICIANS: first, count).
_CLINICIANS = ("DR-A", "DR-B", "DR-C", "DR-D", "DR-E")
_SITE_CLINICIANS = ((0, 2), (2, 2), (4, 1))
AGE_BANDS = ("18-29", "30-44", "45-64", "65+")
_AGE_P = (0.22, 0.40, 0.30, 0.08)

EARLY, LATE, NON = 0, 1, 2

# Induction day offsets: IV Mon/Wed/Fri starting Monday or Wednesday; nasal twice weekly
# (Mon/Thu or Tue/Fri) for 4 weeks, then weekly in weeks 5-8.
_IV_DAYS = np.array([[0, 2, 4, 7, 9, 11], [0, 2, 5, 7, 9, 12]])
_NASAL_DAYS = np.array([0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49])
_IV_INDUCTION, _NASAL_INDUCTION, _NASAL_FIXED = 6, 8, 12

# effect code -> (spellings, % of esketamine patients, % of IV patients, wanes with sessions).
# Esketamine: SPRAVATO label, Adverse Reactions. IV: headache, dissociation and nausea
# emphasised (Short et al. 2018, Lancet Psychiatry 5:65). Raised blood pressure is not drawn
# here: it follows the simulated readings.
_EFFECTS: dict[str, tuple[tuple[str, ...], float, float, bool]] = {
    "dissociation": (("dissociation",), 41, 50, True),
    "dizziness": (("DIZZINESS", "Dizziness"), 29, 25, True),
    "nausea": (("Nausea", "nausea"), 28, 32, True),
    "sedation": (("sedation", "drowsiness"), 23, 15, True),
    "vertigo": (("vertigo",), 23, 8, True),
    "headache": (("headache", "Headache"), 20, 32, False),
    "dysgeusia": (("dysgeusia", "metallic taste"), 19, 6, False),
    "hypoesthesia": (("hypoesthesia", "numbness"), 18, 12, True),
    "anxiety": (("anxiety",), 13, 15, True),
    "lethargy": (("lethargy",), 11, 10, False),
    "vomiting": (("vomiting",), 9, 8, True),
    "feeling_drunk": (("feeling drunk",), 5, 8, True),
}
_BP_SPELLINGS = ("blood pressure increased", "hypertension")
_SPELLINGS = np.array([s for spec in _EFFECTS.values() for s in spec[0]] + list(_BP_SPELLINGS))
_ROUTE_SPELLINGS = np.array(["IV ketamine", "IV infusion", "Spravato", "esketamine nasal spray"])

# Timepoints: (name, target day, half width, chance of a form while in treatment).
# Jitter stays inside the outcome windows (24h: day 1-2; weeks 1-3 +-3; later +-7).
_TIMEPOINTS = (
    ("baseline", 0, 0, 0.97),
    ("24h", 1, 0, 0.80),
    ("week 1", 7, 3, 0.80),
    ("week 2", 14, 3, 0.75),
    ("week 3", 21, 3, 0.65),
    ("week 4", 28, 3, 0.78),
    ("week 8", 56, 5, 0.60),
    ("week 12", 84, 5, 0.50),
    ("week 16", 112, 6, 0.35),
    ("week 24", 168, 7, 0.25),
)

# Relative item loadings: mean 1, so the expected item sum follows the latent total.
# PCL-5 item 16 (risky behaviour) and 8 (amnesia) low, 20 (sleep), 1, 4, 15 high;
# PHQ-9 item 9 (self-harm) low, 3 (sleep) and 4 (energy) high.
_PCL_LOAD = np.array(
    [1.15, 1.0, 0.85, 1.2, 1.05, 1.1, 1.15, 0.8, 1.05, 1.0,
     1.1, 1.0, 1.05, 0.9, 1.1, 0.55, 1.2, 1.05, 1.05, 1.25]
)  # fmt: skip
_PHQ_LOAD = np.array([1.1, 1.1, 1.3, 1.35, 1.05, 1.05, 1.0, 0.7, 0.35])

_YES_NO = ("no", "yes")
_SEVERITIES = ("mild", "moderate", "severe")


def load_sample(name: str = "clinic") -> Path:
    """The folder of a bundled sample, ready for the importer.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLES`.

    Returns
    -------
    pathlib.Path
        The folder holding the sample's CSV files and ``manifest.json``.

    Raises
    ------
    ValueError
        When ``name`` is not a bundled sample; the message lists the valid names.

    Examples
    --------
    >>> load_sample().name
    'sample'
    """
    if name not in SAMPLES:
        valid = ", ".join(sorted(SAMPLES))
        raise ValueError(f"{name!r} is not a bundled sample; valid names: {valid}")
    return _DATA_DIR / SAMPLES[name][0]


def generate_clinic(
    n_patients: int = 250, *, seed: int = DEFAULT_SEED, start_year: int = 2024
) -> dict[str, pd.DataFrame]:
    """Simulate a clinic's export: patients, sessions, assessments and side effects.

    Parameters
    ----------
    n_patients : int
        Patients to simulate, at least 1.
    seed : int
        Seed of the random streams: the same seed gives the same tables, row for row.
    start_year : int
        Calendar year the clinic's two years of data start in (first sessions from January).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``patients``, ``sessions``, ``assessments`` and ``side_effects`` with the columns of the
        upload contract, dates as ISO strings, yes/no as text, blanks as NA.

    Raises
    ------
    ValueError
        When ``n_patients`` is below 1 or ``start_year`` is outside 1900-2100.

    References
    ----------
    .. [1] Feder A et al. (2021). A randomized controlled trial of repeated ketamine
       administration for chronic posttraumatic stress disorder. Am J Psychiatry 178:193-202.
       doi:10.1176/appi.ajp.2020.20050596
    .. [2] SPRAVATO (esketamine) nasal spray prescribing information, Janssen.
    .. [3] Blevins CA et al. (2015). The Posttraumatic Stress Disorder Checklist for DSM-5
       (PCL-5). J Trauma Stress 28:489-498. doi:10.1002/jts.22059

    Examples
    --------
    >>> tables = generate_clinic(20, seed=1)
    >>> sorted(tables)
    ['assessments', 'patients', 'sessions', 'side_effects']
    """
    if isinstance(n_patients, bool) or not isinstance(n_patients, (int, np.integer)):
        raise ValueError(f"n_patients must be a whole number, got {n_patients!r}")
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    if not 1900 <= start_year <= 2100:
        raise ValueError(f"start_year must be between 1900 and 2100, got {start_year}")
    # One stream per part, so changing one part leaves the others' draws unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    origin = np.datetime64(f"{start_year}-01-01", "D")
    last_day = int((np.datetime64(f"{start_year + 2}-01-01", "D") - origin).astype(int)) - 1
    pat = _simulate_patients(streams[0], int(n_patients), origin)
    ses = _simulate_sessions(streams[1], pat, last_day)
    effects = _simulate_side_effects(streams[2], pat, ses)
    forms = _simulate_forms(streams[3], pat, ses, last_day)
    tables = {
        "patients": _patients_frame(pat),
        "sessions": _sessions_frame(pat, ses, effects, origin),
        "assessments": _assessments_frame(pat, forms, origin),
        "side_effects": _side_effects_frame(pat, ses, effects, origin),
    }
    # How the tables were made travels with them, for the manifest.
    made = {"n_patients": int(n_patients), "seed": int(seed), "start_year": int(start_year)}
    for frame in tables.values():
        frame.attrs["generated_by"] = made
    return tables


def write_clinic(out_dir, tables: dict[str, pd.DataFrame]) -> None:
    """Write the four CSV files and ``manifest.json`` of a generated clinic.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder to write into; created when missing. Existing files of the same names are
        replaced.
    tables : dict of str to pandas.DataFrame
        The output of :func:`generate_clinic`; the seed and year it recorded go to the manifest.

    Raises
    ------
    ValueError
        When a table is missing from ``tables``.

    Notes
    -----
    Files are UTF-8 with ``\\n`` line ends; doses are written without trailing zeros, blood
    pressure, CADSS and item scores as integers, so the same tables give the same bytes.
    """
    missing = [name for name in TABLE_NAMES if name not in tables]
    if missing:
        raise ValueError(f"tables is missing {', '.join(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        tables[name].to_csv(
            out / f"{name}.csv", index=False, lineterminator="\n", float_format="%.6g"
        )
    made = tables["patients"].attrs.get("generated_by", {})
    manifest = {
        "name": "clinic",
        "description": "Synthetic ketamine and esketamine clinic: "
        f"{len(tables['patients'])} patients with PTSD over two years",
        "synthetic": "no real patient: every row is simulated",
        "generator": "analytics.sample.generate_clinic",
        "seed": made.get("seed"),
        "start_year": made.get("start_year"),
        "n": {name: len(tables[name]) for name in TABLE_NAMES},
        "columns": {name: list(map(str, tables[name].columns)) for name in TABLE_NAMES},
        "targets": list(TARGETS),
        "realised": describe_clinic(tables),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------------------------
# Simulation. Latent state lives in plain dicts of arrays indexed by patient or by row.


def _pick(rng: np.random.Generator, p, size: int) -> np.ndarray:
    """Index into ``p`` for each of ``size`` draws (vectorised categorical)."""
    cum = np.cumsum(np.asarray(p, dtype=float))
    return np.minimum(np.searchsorted(cum / cum[-1], rng.random(size), side="right"), len(cum) - 1)


def _simulate_patients(rng: np.random.Generator, n: int, origin: np.datetime64) -> dict:
    iv = rng.random(n) < 0.55
    site = _pick(rng, _SITE_P, n)
    first, count = np.array(_SITE_CLINICIANS).T
    clinician = first[site] + np.floor(rng.random(n) * count[site]).astype(int)
    age = _pick(rng, _AGE_P, n)
    therapy = rng.random(n) < 0.55
    # Esketamine is licensed for treatment-resistant depression: at least 2 failed trials.
    trials = np.where(
        iv,
        _pick(rng, (0.12, 0.2, 0.22, 0.18, 0.13, 0.09, 0.06), n),
        2 + _pick(rng, (0.3, 0.28, 0.2, 0.13, 0.09), n),
    )
    mdd = rng.random(n) < np.where(iv, 0.55, 0.9)

    # Trajectory class; concurrent therapy moves a little from non- to early response.
    shift = np.where(therapy, 0.06, -0.05)
    u = rng.random(n)
    klass = np.where(u < 0.69 + shift, EARLY, np.where(u < 0.86 + shift, LATE, NON))

    # Induction sessions given: non-responders stop more often.
    p_one = np.where(iv, np.array([0.17, 0.19, 0.38])[klass], np.array([0.03, 0.03, 0.07])[klass])
    p_all = np.where(iv, np.array([0.58, 0.5, 0.28])[klass], np.array([0.9, 0.88, 0.72])[klass])
    k_ind = np.where(iv, _IV_INDUCTION, _NASAL_INDUCTION)
    u = rng.random(n)
    partial = 2 + np.floor(rng.random(n) * (k_ind - 2)).astype(int)
    n_ind = np.where(u < p_one, 1, np.where(u < 1 - p_all, partial, k_ind))
    complete = n_ind == k_ind

    # After induction. IV: maintenance for some, every 2-6 weeks. Nasal: weekly weeks 5-8, then
    # every 1-2 weeks for most of those who finish week 8.
    p_iv_maint = np.array([0.55, 0.7, 0.25])[klass]
    iv_maint = iv & complete & (rng.random(n) < p_iv_maint)
    p_weekly = np.array([0.88, 0.9, 0.6])[klass]
    weekly = ~iv & complete & (rng.random(n) < p_weekly)
    n_weekly = np.where(weekly, np.where(rng.random(n) < 0.85, 4, 1 + _pick(rng, (1, 1, 1), n)), 0)
    nasal_maint = weekly & (n_weekly == 4) & (rng.random(n) < 0.75)
    n_maint = np.where(
        iv_maint,
        np.minimum(rng.geometric(0.22, n), 20),
        np.where(nasal_maint, np.minimum(rng.geometric(0.07, n), 80), 0),
    )
    interval = np.where(
        iv,
        np.array([14, 21, 28, 35, 42])[_pick(rng, (0.25, 0.3, 0.25, 0.1, 0.1), n)],
        np.where(rng.random(n) < 0.55, 7, 14),
    )

    # First session: enrolment over about 22 months, moved to the schedule's weekday
    # (IV Monday or Wednesday; nasal Monday or Tuesday), so baselines stay inside the 2 years.
    pattern = rng.random(n) < 0.3
    weekday_wanted = np.where(iv, np.where(pattern, 2, 0), np.where(pattern, 1, 0))
    raw = 7 + np.floor(rng.random(n) * 650).astype(int)
    weekday = ((origin + raw).astype("datetime64[D]").astype(int) - 4) % 7  # 1970-01-05 Monday
    start = raw + (weekday_wanted - weekday) % 7

    # PCL-5 baseline (mean ~50, SD ~12) and reduction sizes; PHQ-9 correlated with it.
    z = rng.standard_normal(n)
    pcl0 = np.clip(53 + 12 * z, 12, 78)
    phq0 = np.clip(17 + 4 * (0.55 * z + 0.835 * rng.standard_normal(n)), 4, 26)
    size = np.choose(
        klass,
        [
            rng.normal(0.40, 0.08, n),
            rng.normal(0.44, 0.09, n),
            rng.normal(0.10, 0.08, n),
        ],
    )
    size = np.clip(size + np.where(therapy, 0.04, 0.0), -0.2, 0.92)
    # Most responders are relapse-prone: the effect holds ~2 weeks after the last session, then
    # wanes (tau ~33 days), so a 46% reduction falls below 30% ~4 weeks after the last dose.
    relapse_prone = (klass != NON) & (rng.random(n) < 0.8)
    tau = np.where(relapse_prone, 33 * np.exp(rng.normal(0, 0.35, n)), 400.0)
    phq_scale = np.clip(rng.normal(1.0, 0.15, n), 0.5, 1.5)
    compliance = rng.uniform(0.75, 1.15, n)

    weight = np.clip(rng.normal(82, 17, n), 48, 150)
    per_kg = np.array([0.5, 0.75, 1.0])[_pick(rng, (0.8, 0.12, 0.08), n)]
    escalate = (per_kg == 0.5) & (klass != EARLY) & (rng.random(n) < 0.3)
    nasal_dose = np.where(rng.random(n) < 0.35, 56.0, 84.0)

    # Blood pressure: patient means (SD ~10/7) plus session noise gives SD ~12/8. A minority
    # react strongly to dosing; age 65+ starts higher and rises more.
    old = age == 3
    zb = rng.standard_normal(n)
    sys_mean = 125 + 8 * old + 10.4 * zb
    dia_mean = 80 + 3 * old + 6.9 * (0.6 * zb + 0.8 * rng.standard_normal(n))
    reactive = rng.random(n) < np.where(iv, 0.17, 0.2) + 0.08 * old
    rise_mean = np.where(reactive, 25.0, 10.5) + 3 * old + rng.normal(0, 3, n) - 1.5 * iv
    cadss_factor = rng.gamma(4.0, 0.25, n)

    return {
        "n": n,
        "iv": iv,
        "site": site,
        "clinician": clinician,
        "female": rng.random(n) < 0.58,
        "age": age,
        "old": old,
        "therapy": therapy,
        "trials": trials,
        "mdd": mdd,
        "klass": klass,
        "n_ind": n_ind,
        "n_weekly": n_weekly,
        "n_maint": n_maint,
        "interval": interval,
        "pattern": pattern.astype(int),
        "start": start,
        "pcl0": pcl0,
        "phq0": phq0,
        "size": size,
        "tau": tau,
        "phq_scale": phq_scale,
        "compliance": compliance,
        "weight": weight,
        "per_kg": per_kg,
        "escalate": escalate,
        "nasal_dose": nasal_dose,
        "sys_mean": sys_mean,
        "dia_mean": dia_mean,
        "rise_mean": rise_mean,
        "cadss_factor": cadss_factor,
    }


def _group_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]])


def _simulate_sessions(rng: np.random.Generator, pat: dict, last_day: int) -> dict:
    iv = pat["iv"]
    n_total = pat["n_ind"] + pat["n_weekly"] + pat["n_maint"]
    pid = np.repeat(np.arange(pat["n"]), n_total)
    rows = len(pid)
    k = np.arange(rows) - np.repeat(_group_starts(n_total), n_total) + 1  # session number
    riv = iv[pid]

    fixed_iv = _IV_DAYS[pat["pattern"][pid], np.minimum(k, _IV_INDUCTION) - 1]
    fixed_nasal = _NASAL_DAYS[np.minimum(k, _NASAL_FIXED) - 1]
    fixed = np.where(riv, fixed_iv, fixed_nasal)
    # Maintenance visits: the patient's interval, moved a day or two now and then.
    k_fixed = np.where(riv, _IV_INDUCTION, _NASAL_FIXED)
    jitter = np.array([-2, -1, 0, 1, 2])[_pick(rng, (0.05, 0.15, 0.6, 0.15, 0.05), rows)]
    step = np.where(k > k_fixed, pat["interval"][pid] + jitter, 0)
    csum = np.cumsum(step)
    first = _group_starts(n_total)
    csum = csum - np.repeat(csum[first] - step[first], n_total)
    rel = fixed + csum
    keep = pat["start"][pid] + rel <= last_day
    pid, k, rel, riv = pid[keep], k[keep], rel[keep], riv[keep]
    rows = len(pid)
    n_given = np.bincount(pid, minlength=pat["n"])

    induction = k <= np.where(riv, _IV_INDUCTION, _NASAL_INDUCTION)
    per_kg = np.where(pat["escalate"][pid] & (k >= 4), 0.75, pat["per_kg"][pid])
    dose_mg = np.where(
        riv,
        np.round(pat["weight"][pid] * per_kg, 1),
        np.where(k == 1, 56.0, pat["nasal_dose"][pid]),
    )
    per_kg = np.where(riv, per_kg, np.nan)

    sys_pre = np.round(pat["sys_mean"][pid] + rng.normal(0, 6, rows))
    dia_pre = np.round(pat["dia_mean"][pid] + rng.normal(0, 4, rows))
    rise_sys = pat["rise_mean"][pid] + rng.normal(0, 7, rows)
    rise_dia = 0.55 * rise_sys + rng.normal(0, 4, rows)
    sys_peak = sys_pre + np.round(np.maximum(rise_sys, 0))
    dia_peak = dia_pre + np.round(np.maximum(rise_dia, 0))
    no_peak = rng.random(rows) < 0.01
    sys_peak[no_peak] = np.nan
    dia_peak[no_peak] = np.nan

    # CADSS: right-skewed, highest at the first sessions, waning; higher with higher doses.
    dose_factor = np.where(riv, 0.6 + 0.8 * per_kg, np.where(dose_mg > 60, 1.15, 0.95))
    mu = pat["cadss_factor"][pid] * dose_factor * (5.0 + 9.0 * np.exp(-(k - 1) / 2.5))
    cadss = np.minimum(np.round(rng.gamma(1.4, mu / 1.4)), 92.0)
    recorded = rng.random(rows) < np.where(riv, 0.95, 0.75)
    cadss[~recorded] = np.nan

    other = rng.random(rows) < 0.15
    site = pat["site"][pid]
    first_c, count_c = np.array(_SITE_CLINICIANS).T
    covering = first_c[site] + np.floor(rng.random(rows) * count_c[site]).astype(int)
    clinician = np.where(other, covering, pat["clinician"][pid])
    return {
        "pid": pid,
        "k": k,
        "rel": rel,
        "iv": riv,
        "n_given": n_given,
        "induction": induction,
        "dose_mg": dose_mg,
        "per_kg": per_kg,
        "sys_pre": sys_pre,
        "dia_pre": dia_pre,
        "sys_peak": sys_peak,
        "dia_peak": dia_peak,
        "cadss": cadss,
        "clinician": clinician,
        "route_spelling": np.where(
            riv, (rng.random(rows) >= 0.65).astype(int), 2 + (rng.random(rows) >= 0.6)
        ),
        "extra_sedation": rng.random(rows) < np.where(riv, 0.05, 0.08),
    }


def _simulate_side_effects(rng: np.random.Generator, pat: dict, ses: dict) -> dict:
    """Effect rows as (session row, effect code index, spelling) arrays."""
    pid, k = ses["pid"], ses["k"]
    rows = len(pid)
    n_given = ses["n_given"]
    first = _group_starts(n_given)
    # Per-patient rates in the label come from ~8 doses; one dose carries a bit less risk.
    exposure = np.minimum(1.0, 0.6 + 0.4 * np.minimum(n_given, 8) / 8)
    codes = list(_EFFECTS)
    session_rows, code_idx, spelling = [], [], []
    for j, code in enumerate(codes):  # one pass per effect, vectorised over sessions
        spellings, p_nasal, p_iv, wanes = _EFFECTS[code]
        p = np.where(pat["iv"], p_iv, p_nasal) / 100 * exposure
        q = 0.3 * ((0.35 + 0.65 * np.exp(-(k - 1) / 3.0)) if wanes else 1.0)
        if code == "dissociation":
            # Reported where the CADSS is high: the flag, the score and the row agree.
            p = np.minimum(p * np.clip(pat["cadss_factor"], 0.3, 2.0), 0.95)
            q = q * np.clip(np.nan_to_num(ses["cadss"], nan=8.0) / 8.0, 0.2, 3.0)
        susceptible = (rng.random(pat["n"]) < p) & (n_given > 0)
        hit = susceptible[pid] & (rng.random(rows) < q)
        # Every susceptible patient reports it at least once, most often at an early session.
        none = susceptible & (np.bincount(pid, weights=hit, minlength=pat["n"]) == 0)
        who = np.flatnonzero(none)
        at = np.floor(rng.random(len(who)) * np.minimum(n_given[who], 3)).astype(int)
        hit[first[who] + at] = True
        idx = np.flatnonzero(hit)
        session_rows.append(idx)
        code_idx.append(np.full(len(idx), j))
        offset = int(np.flatnonzero(_SPELLINGS == spellings[0])[0])
        spelling.append(offset + _pick(rng, np.ones(len(spellings)), len(idx)))
    # Raised blood pressure: reported at most sessions with a label-sized rise.
    big = (ses["sys_peak"] - ses["sys_pre"] >= 40) | (ses["dia_peak"] - ses["dia_pre"] >= 25)
    idx = np.flatnonzero(big & (rng.random(rows) < 0.85))
    session_rows.append(idx)
    code_idx.append(np.full(len(idx), len(codes)))
    spelling.append(len(_SPELLINGS) - 2 + _pick(rng, (0.6, 0.4), len(idx)))

    row = np.concatenate(session_rows)
    code = np.concatenate(code_idx)
    order = np.lexsort((code, row))
    row, code, spelling = row[order], code[order], np.concatenate(spelling)[order]
    m = len(row)
    severity = _pick(rng, (0.7, 0.25, 0.05), m)  # index into _SEVERITIES
    serious = (severity == 2) & (rng.random(m) < 0.08)
    return {
        "row": row,
        "code": code,
        "codes": np.array([*codes, "blood_pressure_increased"]),
        "spelling": spelling,
        "severity": severity,
        "serious": serious,
    }


def _simulate_forms(rng: np.random.Generator, pat: dict, ses: dict, last_day: int) -> dict:
    """PCL-5 and PHQ-9 forms: one candidate per patient and timepoint, thinned by missingness."""
    n, n_tp = pat["n"], len(_TIMEPOINTS)
    pid = np.repeat(np.arange(n), n_tp)
    tp = np.tile(np.arange(n_tp), n)
    target = np.array([t[1] for t in _TIMEPOINTS])[tp]
    half = np.array([t[2] for t in _TIMEPOINTS])[tp]
    rows = len(pid)
    # Mostly on the target day; otherwise anywhere in the window.
    spread = np.floor(rng.random(rows) * (2 * half + 1)).astype(int) - half
    day = target + np.where(rng.random(rows) < 0.45, 0, spread)
    is_base = tp == 0
    day = np.where(is_base, -np.where(rng.random(rows) < 0.45, 0, rng.integers(1, 8, rows)), day)
    day = np.where(tp == 1, np.where(rng.random(rows) < 0.85, 1, 2), day)

    # Sessions strictly before the form (a form on a session day is filled in before dosing).
    s_pid, s_rel = ses["pid"], ses["rel"]
    span = int(max(s_rel.max(initial=0), day.max()) + 400)
    s_key = s_pid.astype(np.int64) * span + s_rel
    f_key = pid.astype(np.int64) * span + day
    first = _group_starts(ses["n_given"])
    received = np.searchsorted(s_key, f_key, side="left") - first[pid]
    has_any = ses["n_given"][pid] > 0
    last_before = np.where(received > 0, s_rel[np.maximum(first[pid] + received - 1, 0)], 0)
    last_session = np.where(has_any, s_rel[np.maximum(first[pid] + ses["n_given"][pid] - 1, 0)], 0)

    p_form = np.array([t[3] for t in _TIMEPOINTS])[tp] * pat["compliance"][pid]
    # Who fills in the form: less often late, much less after stopping treatment (sooner for
    # those who left induction early).
    k_ind = np.where(pat["iv"], _IV_INDUCTION, _NASAL_INDUCTION)[pid]
    grace = np.where(pat["n_ind"][pid] < k_ind, 7, 21)
    stopped = day > last_session + grace
    p_form = np.where(stopped & ~is_base, p_form * 0.3, p_form)
    kept = (rng.random(rows) < p_form) & (pat["start"][pid] + day <= last_day)

    # Latent reduction: grows with sessions received, wanes after two weeks without one.
    klass = pat["klass"][pid]
    r = received.astype(float)
    grow = np.choose(
        klass,
        [
            1 - 0.35**r,
            0.15 * (1 - 0.5**r) + 0.85 * np.clip((r - 3) / 8, 0, 1),
            1 - 0.5**r,
        ],
    )
    gap = np.maximum(0, day - last_before - 14)
    reduction = pat["size"][pid] * grow * np.exp(-gap / pat["tau"][pid])
    reduction = np.where(received > 0, reduction, 0.0)
    pcl = np.clip(pat["pcl0"][pid] * (1 - reduction) + rng.normal(0, 2.0, rows), 0, 80)
    phq_red = np.clip(reduction * pat["phq_scale"][pid] + rng.normal(0, 0.06, rows), -0.3, 1)
    phq = np.clip(pat["phq0"][pid] * (1 - phq_red) + rng.normal(0, 1.0, rows), 0, 27)

    pid, day, pcl, phq = pid[kept], day[kept], pcl[kept], phq[kept]
    # A few PHQ-9 forms are skipped while the PCL-5 is done.
    with_phq = rng.random(len(pid)) >= 0.04
    pcl_items = _draw_items(rng, pat["n"], pid, pcl, _PCL_LOAD, 4)
    phq_items = _draw_items(rng, pat["n"], pid[with_phq], phq[with_phq], _PHQ_LOAD, 3)
    # A handful of forms come back with one item unanswered.
    for items in (pcl_items, phq_items):
        blank = np.flatnonzero(rng.random(len(items)) < 0.004)
        items[blank, np.floor(rng.random(len(blank)) * items.shape[1]).astype(int)] = np.nan
    return {
        "pcl": (pid, day, pcl_items),
        "phq": (pid[with_phq], day[with_phq], phq_items),
    }


def _draw_items(
    rng: np.random.Generator,
    n: int,
    pid: np.ndarray,
    total: np.ndarray,
    load: np.ndarray,
    top: int,
) -> np.ndarray:
    """Item scores whose expected sum is ``total``: binomial per item, patient-specific profile."""
    profile = load * np.exp(rng.normal(0, 0.25, (n, len(load))))
    profile = profile / profile.mean(axis=1, keepdims=True)
    p = np.clip(total[:, None] / (top * len(load)) * profile[pid], 0, 1)
    return rng.binomial(top, p).astype(float)


# --------------------------------------------------------------------------------------------
# Export tables.


def _ids(pat: dict) -> np.ndarray:
    width = max(4, len(str(pat["n"])))
    return np.char.add("P", np.char.zfill(np.arange(1, pat["n"] + 1).astype(str), width))


def _dates(origin: np.datetime64, days: np.ndarray) -> np.ndarray:
    # Format each distinct day once: a clinic's dates span about 730 days.
    unique, inverse = np.unique(days, return_inverse=True)
    return _text(np.datetime_as_string(origin + unique.astype("timedelta64[D]"), unit="D"), inverse)


def _text(categories, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column from category labels and integer codes, without a Python string per row."""
    arrow = pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(np.asarray(categories, dtype=str))
    ).cast(pa.large_string())
    return pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _int_column(values: np.ndarray) -> pd.arrays.IntegerArray:
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def _patients_frame(pat: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": _ids(pat),
            "site": _text(SITES, pat["site"]),
            "clinician": _text(_CLINICIANS, pat["clinician"]),
            "sex": _text(("male", "female"), pat["female"]),
            "age_band": _text(AGE_BANDS, pat["age"]),
            "concurrent_therapy": _text(_YES_NO, pat["therapy"]),
            "prior_antidepressant_trials": pat["trials"].astype(np.int64),
            "primary_diagnosis": _text(("PTSD", "PTSD+MDD"), pat["mdd"]),
        }
    )


def _sessions_frame(pat: dict, ses: dict, effects: dict, origin: np.datetime64) -> pd.DataFrame:
    pid = ses["pid"]
    rows = len(pid)
    # The yes/no flags agree with the effect rows: a dissociation row means "yes" that session.
    codes = effects["codes"][effects["code"]]
    diss_ae = np.zeros(rows, dtype=bool)
    sed_ae = np.zeros(rows, dtype=bool)
    diss_ae[effects["row"][codes == "dissociation"]] = True
    sed_ae[effects["row"][codes == "sedation"]] = True
    cadss = ses["cadss"]
    with np.errstate(invalid="ignore"):
        dissociated = diss_ae | (cadss >= 18)
    sedated = sed_ae | ses["extra_sedation"]
    return pd.DataFrame(
        {
            "patient_id": _text(_ids(pat), pid),
            "session_date": _dates(origin, pat["start"][pid] + ses["rel"]),
            "route": _text(_ROUTE_SPELLINGS, ses["route_spelling"]),
            "dose_mg": ses["dose_mg"],
            "dose_mg_per_kg": ses["per_kg"],
            "bp_systolic_pre": _int_column(ses["sys_pre"]),
            "bp_diastolic_pre": _int_column(ses["dia_pre"]),
            "bp_systolic_peak": _int_column(ses["sys_peak"]),
            "bp_diastolic_peak": _int_column(ses["dia_peak"]),
            "dissociation_cadss": _int_column(cadss),
            "sedation": _text(_YES_NO, sedated),
            "dissociation": _text(_YES_NO, dissociated),
            "clinician": _text(_CLINICIANS, ses["clinician"]),
            "site": _text(SITES, pat["site"][pid]),
            "phase": _text(("maintenance", "induction"), ses["induction"]),
        }
    )


def _side_effects_frame(pat: dict, ses: dict, effects: dict, origin: np.datetime64) -> pd.DataFrame:
    row = effects["row"]
    pid = ses["pid"][row]
    return pd.DataFrame(
        {
            "patient_id": _text(_ids(pat), pid),
            "session_date": _dates(origin, pat["start"][pid] + ses["rel"][row]),
            "effect": _text(_SPELLINGS, effects["spelling"]),
            "severity": _text(_SEVERITIES, effects["severity"]),
            "serious": _text(_YES_NO, effects["serious"]),
        }
    )


def _assessments_frame(pat: dict, forms: dict, origin: np.datetime64) -> pd.DataFrame:
    n_items = len(_PCL_LOAD)
    pid, day, inst, total, items = [], [], [], [], []
    for i, key in enumerate(("pcl", "phq")):
        p, d, it = forms[key]
        pid.append(p)
        day.append(d)
        inst.append(np.full(len(p), i))
        total.append(it.sum(axis=1))  # NaN when an item is blank: the form is not scored
        items.append(np.pad(it, ((0, 0), (0, n_items - it.shape[1])), constant_values=np.nan))
    pid, day, inst = np.concatenate(pid), np.concatenate(day), np.concatenate(inst)
    total, items = np.concatenate(total), np.concatenate(items)
    order = np.lexsort((inst, day, pid))  # patient, date, PCL-5 before PHQ-9
    pid, day, inst, total, items = pid[order], day[order], inst[order], total[order], items[order]
    frame = {
        "patient_id": _text(_ids(pat), pid),
        "assessment_date": _dates(origin, pat["start"][pid] + day),
        "instrument": _text(("PCL-5", "PHQ-9"), inst),
        "total": _int_column(total),
    }
    for i in range(n_items):
        frame[f"item_{i + 1}"] = _int_column(items[:, i])
    return pd.DataFrame(frame)


def describe_clinic(tables: dict[str, pd.DataFrame]) -> dict:
    """Figures a generated clinic realises, to set beside :data:`TARGETS`.

    Computed directly from the upload tables with the project's default definitions (baseline:
    the latest PCL-5 on or before the first session, at most 30 days before it; week 4: the
    score nearest day 28 within days 21-35; response: >= 30% reduction; remission: below 33
    among baselines of 33 or more; per-patient side-effect rate: patients with at least one
    report / patients with a session). Percentages are of patients, rounded to 0.1.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The output of :func:`generate_clinic`.

    Returns
    -------
    dict
        Plain numbers, ready for JSON.
    """
    ses = tables["sessions"]
    day0 = pd.to_datetime(ses["session_date"]).groupby(ses["patient_id"]).min()
    route = (
        ses.assign(iv=ses["route"].str.startswith("IV"))
        .sort_values(["patient_id", "session_date"])
        .groupby("patient_id")["iv"]
        .first()
    )
    n_sessions = ses.groupby("patient_id").size()
    iv_ids, nasal_ids = route.index[route], route.index[~route]

    def pct(k, n) -> float:
        return round(100 * float(k) / float(n), 1) if n else float("nan")

    def days(frame: pd.DataFrame, column: str) -> pd.Series:
        start = frame["patient_id"].map(day0)
        return (pd.to_datetime(frame[column]) - start).dt.days

    forms = tables["assessments"]
    forms = forms[forms["total"].notna()].assign(day=lambda f: days(f, "assessment_date"))
    pcl = forms[forms["instrument"] == "PCL-5"]
    base = (
        pcl[(pcl["day"] <= 0) & (pcl["day"] >= -30)]
        .sort_values(["patient_id", "day"])
        .groupby("patient_id")["total"]
        .last()
        .astype(float)
    )
    week4 = pcl[(pcl["day"] >= 21) & (pcl["day"] <= 35)].assign(
        distance=lambda f: (f["day"] - 28).abs()
    )
    week4 = week4.sort_values(["patient_id", "distance", "day"]).groupby("patient_id").first()
    w4 = week4.join(base.rename("baseline"), how="inner")
    responded = w4["total"] <= 0.7 * w4["baseline"]
    eligible = w4["baseline"] >= 33

    effects = tables["side_effects"]
    code = effects["effect"].map(_SPELLING_CODES)
    by_route = {}
    for label, ids in (("esketamine", nasal_ids), ("iv_ketamine", iv_ids)):
        mine = effects[effects["patient_id"].isin(ids)]
        counts = mine.assign(code=code).groupby("code")["patient_id"].nunique()
        by_route[label] = {c: pct(counts.get(c, 0), len(ids)) for c in _SPELLING_ORDER}

    sys_rise = ses["bp_systolic_peak"] - ses["bp_systolic_pre"]
    dia_rise = ses["bp_diastolic_peak"] - ses["bp_diastolic_pre"]
    big = ((sys_rise >= 40) | (dia_rise >= 25)).fillna(False)
    big_patients = ses.loc[big.to_numpy(dtype=bool), "patient_id"].unique()
    cadss = ses["dissociation_cadss"].astype(float)
    return {
        "patients": int(len(tables["patients"])),
        "patients_iv_ketamine": int(len(iv_ids)),
        "patients_esketamine": int(len(nasal_ids)),
        "sessions_per_patient_mean": round(float(n_sessions.mean()), 1),
        "iv_stopped_after_session_1_pct": pct((n_sessions[iv_ids] == 1).sum(), len(iv_ids)),
        "iv_reached_6_sessions_pct": pct((n_sessions[iv_ids] >= 6).sum(), len(iv_ids)),
        "pcl5_baseline_n": int(len(base)),
        "pcl5_baseline_mean": round(float(base.mean()), 1),
        "pcl5_baseline_sd": round(float(base.std()), 1),
        "pcl5_baseline_33_or_more_pct": pct((base >= 33).sum(), len(base)),
        "pcl5_week4_observed_n": int(len(w4)),
        "pcl5_week4_mean": round(float(w4["total"].mean()), 1),
        "pcl5_week4_response_pct": pct(responded.sum(), len(w4)),
        "pcl5_week4_remission_pct": pct(((w4["total"] < 33) & eligible).sum(), eligible.sum()),
        "phq9_baseline_mean": round(
            float(forms[(forms["instrument"] == "PHQ-9") & (forms["day"] <= 0)]["total"].mean()),
            1,
        ),
        "forms_with_a_blank_item": int(tables["assessments"]["total"].isna().sum()),
        "cadss_mean": round(float(cadss.mean()), 1),
        "cadss_sd": round(float(cadss.std()), 1),
        "bp_systolic_pre_mean": round(float(ses["bp_systolic_pre"].astype(float).mean()), 1),
        "bp_systolic_rise_mean": round(float(sys_rise.astype(float).mean()), 1),
        "esketamine_bp_rise_40_25_pct": pct(
            pd.Index(big_patients).isin(nasal_ids).sum(), len(nasal_ids)
        ),
        "serious_side_effects": int((effects["serious"] == "yes").sum()),
        "side_effect_patients_pct": by_route,
    }


_SPELLING_CODES = {s: code for code, spec in _EFFECTS.items() for s in spec[0]} | {
    s: "blood_pressure_increased" for s in _BP_SPELLINGS
}
_SPELLING_ORDER = [*_EFFECTS, "blood_pressure_increased"]
