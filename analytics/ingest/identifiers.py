"""Refuse what may identify a patient before anything is stored (HIPAA Safe Harbor).

The dashboard works on pseudonymous ids and days since the first treatment. Safe Harbor (45 CFR
164.514(b)(2)) lists eighteen kinds of identifiers of a patient and of their relatives and
household; a file holding any of them is refused, or, for a column the dashboard does not need,
the clinic may choose to drop the column on import. :func:`check_identifiers` applies the rules
below to one file; :func:`file_name_reason` applies them to its name; :func:`looks_identifying`
tells which single values match a strong pattern, so that a value echoed in any problem can be
blanked. A problem names the column and the reason and never shows a value.

Rules
-----
1. **Headers.** A header is split into words (``_``, ``-``, ``.``, brackets, spaces and camelCase
   all split; accents dropped; runs of single letters joined, so "D.O.B." is "dob") and refused
   when its words, or the words squashed together, hold an identifying phrase:

   - names: "name" / "nm" / "nombre" / "apellido" / "surname" / "initials" ..., unless another
     word says whose name it is not a patient's ("site name", "clinician name",
     "redcap_event_name", "instrument name", "drug name" pass);
   - relatives and contacts: "guardian", "next of kin", "emergency contact", "spouse", ...;
   - dates of birth: any word holding "birth" or "nacimiento", "born", "dob", "yob", "bday";
   - places smaller than a state: "address", "street", "city", "zip", "postcode", "latitude", ...;
   - phone and fax: "phone", "tel", "mobile", "cell", "fax", "pager", "telefono", ...;
   - e-mail: "email", "e-mail", "correo";
   - social security and national ids: "ssn", "social security", "national id", "tax id", ...;
   - medical record numbers: "mrn", "medical record", "chart number", "hospital number", ...;
   - health plan and account numbers: "insurance", "policy", "member", "beneficiary",
     "medicaid", "medicare", "account", "acct", ...;
   - licence and certificate numbers: "licence"/"license", "passport", "driver", "certificate";
   - vehicle and device serial numbers: "vehicle", "vin", "plate", "serial", "imei", "device id";
   - web and network: "url", "website", "web", "ip", "ip address", "username", ...;
   - photos and biometrics: "photo", "picture", "biometric", "fingerprint", "voiceprint", ....

   Clinician and site columns are allowed: clinicians are staff, not patients.
2. **A header that is itself an identifier** (it holds an e-mail address, a phone, social security
   or record number, a full date, a street address, a web or IP address, or looks like a
   person's name such as "John Smith" or "Smith, John") is refused, and its problem names it by
   position ("column 3") so the header is never echoed.
3. **Ages.** A column with "age" (or "edad") as a word of its header ("age", "patient_age",
   "age_at_intake") has every age above 89 replaced by "90+" (Safe Harbor (b)(2)(i)(C)); the
   returned frame carries the banded column.
4. **Every cell is checked**, once per distinct value, with no sampling and no share threshold:
   one hit of a strong pattern refuses the column. Strong patterns: e-mail addresses, plain and
   written out ("j.smith(at)mail(dot)org", "jsmithers at example dot com"); phone numbers (US
   layouts with brackets, spaces, dots or dashes, "+1 ...", and international layouts "+44 20
   7946 0958", "0044 ...", "020 7946 0958", "06 12 34 56 78"); social security numbers written
   "123-45-6789", "123 45 6789" or "123.45.6789"; full dates (years 1800-2099, in ISO, day/month
   and month/day orders, and with month names) in any column that is not one of the contract's
   date columns (session or assessment dates, which the importer turns into days); street
   addresses ("12 Main Street", "400 Elm Ave", "PO Box 12"); record numbers ("MRN12345",
   "Acct# 99881", "chart 1234", "policy 55667"); web addresses ("https://...", "www...") and IP
   addresses. Cells shorter than 5 characters cannot hold any of these and are not looked at.
5. **Bare digit runs.** Nine digits on their own ("123456789", a social security number) and ten
   digits on their own shaped like a US number, first digit 2-9, "1" in front allowed
   ("5551234567", a phone number), count in text columns (patient ids,
   clinician, site, columns outside the contract); they do not count in the contract's number,
   date and code columns, where the importer reads them as numbers.
6. **patient_id** values are also refused when they look like a person's name (two or more
   words of letters, separated by a space or a comma: "Smithers0, John", "John Smithers0",
   "J. Smith") or are a run of nine or more digits. Pseudonyms such as "P0001", "KET-017",
   "pt_0042", "A1B2C3", "017", "site2-0042" and "PT 0042" (its second word is not letters) pass.
   Fix: replace the ids with pseudonyms before uploading.
7. **clinician and site** values are checked for the strong patterns and bare digit runs only:
   staff names such as "Dr. Patel" and site names such as "Main clinic" pass.
8. **Descriptive columns of a patients file** (every column other than ``patient_id``,
   ``first_session_year`` and ``first_session_month``) are kept only when, after rule 4 and the
   banding of ages, they are
   - categorical: at most 20 distinct labels, each at most 40 characters, none a date or a month
     ("1961-04", "04/1961") and none a whole number of 100 or more, and, in a file of 20 or more
     patients, at most half as many labels as filled cells (sex "F"/"M", diagnosis "PTSD"/"MDD",
     age band "45-64"); or
   - numbers: whole numbers 0-99 (counts such as prior episodes or prior treatments), or, in an
     age column, ages 0-89 and "90+".
   Anything else is refused: free text and many different values, long labels, dates and months,
   and numbers that are not small whole numbers (long numbers, years such as a year of birth).
9. **File names.** A file name is refused when it holds an e-mail address, a phone, social
   security or record number, a birth word ("dob", "birth", "born"), a full date next to a word
   the importer does not know (a name: "john_smith_1961-04-01.csv"), or two unknown words in a row
   ("john_smith.csv"). Known words are the tables, the instruments, the contract's headers and
   the usual export words, so "Visits_Export_2025.csv", "PCL5_Scores.csv", "Adverse_Events.csv",
   "Patient_Demographics.csv" and "sessions.csv" pass; so does "export-2025-03-01.csv": a date
   next to known words only is an export date, not a date of birth.

Every problem is an ERROR with ``row`` and ``value`` None and a rule starting with
:data:`PHI_RULE_PREFIX`. A column outside the contract may be dropped on import (it is listed in
:attr:`IdentifierCheck.droppable`); a contract column (patient_id, clinician, site, dates,
numbers) is never droppable and its problem says how to fix the file.
"""

from __future__ import annotations

import os
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.problems import ERROR, Problem
from analytics.ingest import vocabularies as vocab
from analytics.ingest.mapping import SYNONYMS
from analytics.ingest.reader import ROW_COLUMN

__all__ = [
    "CATEGORY_LIMIT",
    "DATE_COLUMNS",
    "LABEL_CHARS",
    "OLDEST_AGE",
    "PHI_RULE_PREFIX",
    "IdentifierCheck",
    "check_identifiers",
    "column_label",
    "file_name_reason",
    "header_reason",
    "header_value_reason",
    "header_words",
    "is_phi_problem",
    "looks_identifying",
]

# Every rule written here starts with this, so identifier problems can be told from others.
PHI_RULE_PREFIX = "may identify patients: "
# Ages above this are identifiers under Safe Harbor, (b)(2)(i)(C).
OLDEST_AGE = 89
AGE_BAND = "90+"
# The allow-list of a patients file's descriptive columns.
CATEGORY_LIMIT = 20
LABEL_CHARS = 40
# From this many patients on, a category must hold at least two filled cells per label.
MANY_PATIENTS = 20
SMALL_NUMBER = 99
# No strong pattern matches fewer characters ("a@b.co", "www.x", "Ab Cd" are the shortest).
MIN_IDENTIFIER_CHARS = 5
# Above this many cells, the columns' distinct values are found on several threads (Arrow
# releases the GIL).
THREADED_CELLS = 500_000
# The contract's date columns: dates there are expected (the importer turns them into days).
DATE_COLUMNS = frozenset({"session_date", "assessment_date"})
PATIENTS_CONTRACT = frozenset(
    {"patient_id", "first_session_year", "first_session_month", "follow_up_days"}
)

DROP_FIX = "Remove the column before uploading, or choose to drop it on import"
_FIXES = {
    "patient_id": "Replace the ids with pseudonyms (for example P0001) before uploading",
    "clinician": "Keep only staff names or codes in this column and upload the file again",
    "site": "Keep only site names or codes in this column and upload the file again",
}
_CONTRACT_FIX = "Remove these values from the column and upload the file again"

# ---------------------------------------------------------------------------------------------
# Value patterns, written for RE2 (pyarrow): no look-arounds, no back-references.

_NOT_DIGIT_BEFORE = r"(?:^|[^0-9])"
_NOT_DIGIT_AFTER = r"(?:$|[^0-9])"
_AT = r"(?:@|\s*[(\[{<]\s*(?:at|@)\s*[)\]}>]\s*)"
_DOT = r"(?:\.|\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+)"
_LOCAL = r"[a-z0-9._%+\-]+"
_LABEL = r"[a-z0-9\-]+"
_TLDS = "com|org|net|edu|gov|mil|int|io|co|us|uk|ca|au|de|fr|es|mx|info|biz|me"
_EMAIL = (
    rf"(?i:{_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[a-z]{{2,}}"
    # "jsmithers at example dot com", "j.smith at mail.org": a spelled-out "at" needs a
    # spelled-out dot or a known top-level domain, so "seen at noon. Then" does not count.
    rf"|{_LOCAL}\s+at\s+{_LABEL}(?:{_DOT}{_LABEL})*(?:\s*[(\[{{<]\s*dot\s*[)\]}}>]\s*|\s+dot\s+)"
    rf"[a-z]{{2,}}"
    rf"|{_LOCAL}\s+at\s+{_LABEL}(?:\.{_LABEL})*\.(?:{_TLDS})\b)"
)
_SEP = r"[ .\-]"
_PHONE = (
    _NOT_DIGIT_BEFORE + "(?:"
    # US: (555) 123-4567, 555-123-4567, 555.123.4567, 555 1234567, +1 555 123 4567
    rf"(?:\+?1{_SEP}?)?\([0-9]{{3}}\){_SEP}?[0-9]{{3}}{_SEP}?[0-9]{{4}}"
    rf"|(?:\+?1{_SEP})?[0-9]{{3}}{_SEP}[0-9]{{3}}{_SEP}?[0-9]{{4}}"
    rf"|(?:\+?1{_SEP})?[0-9]{{3}}{_SEP}?[0-9]{{3}}{_SEP}[0-9]{{4}}"
    r"|\+1[0-9]{10}"
    # international: +44 20 7946 0958, +33 1 23 45 67 89, +49 (30) 123456, +447946095800
    rf"|\+[1-9][0-9]{{0,2}}[ \-]\(?[0-9]{{1,4}}\)?(?:{_SEP}[0-9]{{2,8}}){{1,4}}"
    rf"|\+[1-9][0-9]{{0,2}}\([0-9]{{1,4}}\)[ \-]?[0-9]{{2,8}}(?:{_SEP}[0-9]{{2,8}}){{0,3}}"
    r"|\+[1-9][0-9]{7,14}"
    rf"|00[1-9][0-9]{{0,2}}(?:{_SEP}[0-9]{{2,5}}){{2,5}}"
    # national trunk prefix: 020 7946 0958, 06 12 34 56 78
    r"|0[1-9][0-9]{1,3}[ \-][0-9]{3,4}[ \-][0-9]{3,4}"
    rf"|0[1-9](?:{_SEP}[0-9]{{2}}){{4}}"
    ")" + _NOT_DIGIT_AFTER
)
_SSN = rf"{_NOT_DIGIT_BEFORE}[0-9]{{3}}{_SEP}[0-9]{{2}}{_SEP}[0-9]{{4}}{_NOT_DIGIT_AFTER}"
# Bare digit runs that are not glued to letters ("P123456789" is an id, not an SSN).
_BARE_SSN = r"(?:^|[^0-9A-Za-z])[0-9]{9}(?:$|[^0-9A-Za-z])"
_BARE_PHONE = r"(?:^|[^0-9A-Za-z+])1?[2-9][0-9]{9}(?:$|[^0-9A-Za-z])"
_LONG_DIGITS = r"^[0-9]{9,}$"
_Y4 = r"(?:1[89][0-9]{2}|20[0-9]{2})"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MD = rf"(?:{_DAY}|{_MONTH})"
_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE = (
    _NOT_DIGIT_BEFORE + "(?:"
    rf"{_Y4}-{_MONTH}-{_DAY}|{_Y4}/{_MONTH}/{_DAY}|{_Y4}\.{_MONTH}\.{_DAY}"
    rf"|{_MD}/{_MD}/(?:{_Y4}|[0-9]{{2}})|{_MD}-{_MD}-(?:{_Y4}|[0-9]{{2}})|{_MD}\.{_MD}\.{_Y4}"
    ")"
    + _NOT_DIGIT_AFTER
    + rf"|(?i:\b{_MONTH_NAME}\s+{_DAY}{_ORDINAL},?\s+{_Y4}\b)"
    + rf"|(?i:\b{_DAY}{_ORDINAL}[\s\-/]+{_MONTH_NAME}[\s\-/,]+(?:{_Y4}|[0-9]{{2}})\b)"
)
# Month and year alone ("1961-04", "04/1961"): refused by the allow-list, not a strong pattern.
_MONTH_YEAR = rf"^(?:{_Y4}[\-/.]{_MONTH}|{_MONTH}[\-/.]{_Y4})$"


def _cases(words: str) -> str:
    return "|".join(f"{w}|{w.capitalize()}|{w.upper()}" for w in words.split("|"))


_STREET_WORDS = (
    "street|avenue|road|boulevard|lane|drive|court|place|terrace|circle|highway|parkway|square"
)
_STREET_ABBREVIATIONS = "St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Hwy|Pkwy|Sq|Way|ST|AVE|RD|BLVD|LN"
# A number, up to three capitalised name words, then a street type: "12 Main Street".
_ADDRESS = (
    r"\b[0-9]{1,6}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z0-9][A-Za-z0-9'.\-]*\s+){1,3}"
    rf"(?:{_cases(_STREET_WORDS)}|{_STREET_ABBREVIATIONS})\b"
    r"|(?i:\bp\.?\s?o\.?\s*box\s+[0-9]+)"
)
_RECORD = (
    r"(?i:(?:^|[^a-z])(?:mrn|mr#|acct|acc#|account|chart|med\.?\s*rec(?:ord)?|medical\s+record"
    r"|policy|member|subscriber|medicaid|medicare|passport|licen[cs]e)"
    r"\s*(?:no\.?|num(?:ber)?|id|#)?\s*[#:.\-_]?\s*[0-9]{4,})"
)
_WEB = (
    r"(?i:(?:https?://|www\.)[a-z0-9])"
    r"|(?:^|[^0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:$|[^0-9.])"
)
_TOKEN = r"[A-Za-z][A-Za-z'\-]*[A-Za-z][0-9]*"
_INITIAL = r"[A-Za-z]\.?"
# Two or more words of letters: "Smithers0, John", "John Smithers0", "J. Smith", "Smith J".
_PERSON = (
    rf"^{_TOKEN}\s*,\s*(?:{_TOKEN}|{_INITIAL})(?:\s+(?:{_TOKEN}|{_INITIAL}))*$"
    rf"|^(?:(?:{_TOKEN}|{_INITIAL})\s+)+{_TOKEN}$"
    rf"|^{_TOKEN}(?:\s+(?:{_TOKEN}|{_INITIAL}))+$"
)
_NUMBER = r"^[+\-]?[0-9]+(?:\.[0-9]+)?$"
_WHOLE = r"^[0-9]+$"

# (key, pattern, reason); strong patterns refuse a column on one hit.
_STRONG = (
    ("email", _EMAIL, "e-mail addresses"),
    ("phone", _PHONE, "phone numbers"),
    ("ssn", _SSN, "social security numbers"),
    ("date", _DATE, "dates (a date of birth or another date of a patient)"),
    ("address", _ADDRESS, "street addresses"),
    ("record", _RECORD, "medical record, account or plan numbers"),
    ("web", _WEB, "web or IP addresses"),
)
_BARE = (
    ("ssn", _BARE_SSN, "social security numbers"),
    ("phone", _BARE_PHONE, "phone numbers"),
)
_PATIENT_ID = (
    ("person", _PERSON, "people's names"),
    ("long", _LONG_DIGITS, "long numbers (a social security, phone or record number)"),
)


@dataclass(frozen=True)
class _Scope:
    """Which patterns a column's values are checked against."""

    dates: bool = True
    bare: bool = True
    patient_id: bool = False
    allow_list: bool = False


_SCOPES = {
    "patient_id": _Scope(patient_id=True),
    "staff": _Scope(),
    "date": _Scope(dates=False, bare=False),
    "typed": _Scope(bare=False),
    "other": _Scope(),
    "descriptive": _Scope(allow_list=True),
}


def _patterns(scope: _Scope) -> list[tuple[str, str, str]]:
    rules = [r for r in _STRONG if scope.dates or r[0] != "date"]
    if scope.bare:
        rules += _BARE
    if scope.patient_id:
        rules += _PATIENT_ID
    return rules


def _screen(rules: list[tuple[str, str, str]]) -> str:
    return "|".join(f"(?:{pattern})" for _, pattern, _ in rules)


# ---------------------------------------------------------------------------------------------
# Header vocabulary.

NAME = "a person's name"
RELATIVE = "a relative's or contact's name or details"
DOB = "a date of birth"
PLACE = "an address or a place smaller than a state"
PHONE = "a phone or fax number"
EMAIL = "an e-mail address"
SSN = "a social security or other national id number"
MRN = "a medical record number"
PLAN = "a health plan, insurance or account number"
LICENCE = "a licence, passport or certificate number"
SERIAL = "a vehicle or device serial number"
WEB = "a web or IP address"
BIOMETRIC = "a photo or biometric"

_PHRASES: dict[str, list[str]] = {
    RELATIVE: [
        "guardian",
        "guardians",
        "next of kin",
        "kin",
        "nok",
        "emergency contact",
        "contact name",
        "contact person",
        "contact info",
        "contact details",
        "contact number",
        "spouse",
        "mother",
        "father",
        "relative",
        "tutor",
        "contacto",
    ],
    DOB: ["dob", "yob", "bday", "bdate", "birthday", "fecha de nacimiento"],
    PLACE: [
        "address",
        "addr",
        "street",
        "city",
        "town",
        "county",
        "zip",
        "zipcode",
        "postcode",
        "post code",
        "postal",
        "direccion",
        "domicilio",
        "ciudad",
        "codigo postal",
        "latitude",
        "longitude",
        "lat",
        "lng",
        "gps",
        "coordinates",
        "geolocation",
        "residence",
        "apartment",
    ],
    PHONE: [
        "phone",
        "phones",
        "telephone",
        "tel",
        "mobile",
        "cell",
        "cellphone",
        "cellular",
        "fax",
        "pager",
        "telefono",
        "celular",
        "movil",
        "whatsapp",
        "phonenumber",
    ],
    EMAIL: ["email", "emails", "e mail", "correo", "emailaddress"],
    SSN: [
        "ssn",
        "social security",
        "socialsecurity",
        "social sec",
        "national id",
        "tax id",
        "taxid",
        "itin",
        "nhs number",
        "nhs",
        "seguro social",
        "curp",
        "dni",
    ],
    MRN: [
        "mrn",
        "medical record",
        "medicalrecord",
        "chart",
        "record number",
        "hospital number",
        "mr number",
        "mr no",
        "emr",
        "ehr",
    ],
    PLAN: [
        "insurance",
        "insurer",
        "policy",
        "member",
        "membership",
        "beneficiary",
        "medicaid",
        "medicare",
        "subscriber",
        "health plan",
        "group number",
        "account",
        "accounts",
        "acct",
        "bank",
        "iban",
        "credit card",
        "card number",
    ],
    LICENCE: [
        "license",
        "licence",
        "passport",
        "driver",
        "drivers",
        "driving",
        "certificate",
    ],
    SERIAL: [
        "vehicle",
        "vin",
        "plate",
        "serial",
        "imei",
        "udi",
        "device id",
        "device serial",
    ],
    WEB: [
        "url",
        "urls",
        "uri",
        "website",
        "web",
        "webpage",
        "homepage",
        "ip",
        "ip address",
        "ipaddress",
        "ipv4",
        "ipv6",
        "mac address",
        "username",
        "user name",
        "login",
        "social media",
        "facebook",
        "instagram",
        "twitter",
    ],
    BIOMETRIC: [
        "photo",
        "photos",
        "photograph",
        "picture",
        "headshot",
        "selfie",
        "biometric",
        "biometrics",
        "fingerprint",
        "finger print",
        "voiceprint",
        "voice print",
        "retina",
        "iris",
        "facial",
    ],
}
_PHRASE_REASON: dict[tuple[str, ...], str] = {
    tuple(phrase.split()): reason for reason, phrases in _PHRASES.items() for phrase in phrases
}
_NAME_WORDS = frozenset(
    "name names nm nombre nombres apellido apellidos surname surnames forename forenames "
    "firstname lastname fullname initials".split()
)
# A name word with one of these names something other than a patient.
_NOT_PATIENT_NAME = frozenset(
    "site clinic clinician provider prescriber doctor physician therapist nurse staff rater "
    "event instrument form scale questionnaire measure drug medication med file study arm group "
    "program programme location facility center centre hospital unit team test field variable "
    "project protocol redcap arm treatment".split()
)
# Compound spellings found when the header's words are squashed together.
_SQUASHED = {
    "firstname": NAME,
    "lastname": NAME,
    "fullname": NAME,
    "surname": NAME,
    "patientname": NAME,
    "ptname": NAME,
    "nextofkin": RELATIVE,
    "emergencycontact": RELATIVE,
    "dateofbirth": DOB,
    "birthdate": DOB,
    "zipcode": PLACE,
    "postalcode": PLACE,
    "streetaddress": PLACE,
    "homeaddress": PLACE,
    "phonenumber": PHONE,
    "telephone": PHONE,
    "cellphone": PHONE,
    "email": EMAIL,
    "socialsecurity": SSN,
    "medicalrecord": MRN,
    "insuranceid": PLAN,
    "accountnumber": PLAN,
    "ipaddress": WEB,
}
_AGE_WORDS = frozenset({"age", "ages", "aged", "edad"})


def is_phi_problem(problem: Problem) -> bool:
    """True for a problem written by this module (its rule starts with :data:`PHI_RULE_PREFIX`)."""
    return problem.rule.startswith(PHI_RULE_PREFIX)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def header_words(header: str) -> list[str]:
    """The words of a header: camelCase, ``_``, ``-``, ``.``, brackets and spaces all split;
    accents dropped; runs of single letters joined ("D.O.B." gives "dob").

    Examples
    --------
    >>> header_words("patientDOB")
    ['patient', 'dob']
    >>> header_words("E-Mail_Address")
    ['e', 'mail', 'address']
    >>> header_words("D.O.B.")
    ['dob']
    """
    text = _ascii(header)
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    words = re.findall(r"[a-z0-9]+", spaced.lower())
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if len(run) > 1:
            joined.append("".join(run))
        else:
            joined.extend(run)
        run = []
        if word:
            joined.append(word)
    return joined


def _is_age_header(header: str) -> bool:
    return bool(_AGE_WORDS & set(header_words(header)))


def header_reason(header: str) -> str | None:
    """What the header ``header`` says its column holds that may identify a patient ("a date of
    birth", "a person's name", ...), or None.

    Examples
    --------
    >>> header_reason("D.O.B."), header_reason("site_name"), header_reason("Pt Nm")
    ('a date of birth', None, "a person's name")
    """
    words = header_words(header)
    if not words:
        return None
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            reason = _PHRASE_REASON.get(tuple(words[start : start + size]))
            if reason is not None:
                return reason
    if any(
        "birth" in w or "nacimiento" in w or w.startswith("born") or w.endswith("born")
        for w in words
    ):
        return DOB
    if any(w.startswith("dob") or w.endswith("dob") for w in words if len(w) <= 8):
        return DOB
    if _NAME_WORDS & set(words) and not _NOT_PATIENT_NAME & set(words):
        return NAME
    squashed = "".join(words)
    for fragment, reason in _SQUASHED.items():
        if fragment in squashed:
            return reason
    return None


# Words a header or a file name may hold that are not anyone's name.
_KNOWN_WORDS = frozenset(
    word
    for phrases in (
        *(names + [canonical] for table in SYNONYMS.values() for canonical, names in table.items()),
        *_PHRASES.values(),
        list(_NAME_WORDS),
        list(_NOT_PATIENT_NAME),
        list(_AGE_WORDS),
        """sessions assessments side effects adverse events patients patient demographics
        demographic visits visit export exports data report reports scores score results
        outcomes outcome ketamine esketamine spravato infusion infusions clinic clinics north
        south east west main central upload uploads file final copy new old draft test sample
        example examples redcap sheet table list backup all full monthly weekly daily annual
        year month week quarter summary baseline follow up intake discharge screening
        consent notes note comments comment code codes type status flag yes no total mean
        first last given family middle maiden legal preferred full date time start end
        number count prior episodes trials treatments band sex gender race ethnicity
        diagnosis primary secondary concurrent therapy arm response remission pcl pcl5 phq
        phq9 gad gad7 bdi madrs qids cadss item items responses answers survey surveys and
        of the for with by in on at to from per id ids v1 v2 version""".split(),
    )
    for phrase in phrases
    for word in header_words(phrase)
)


def _looks_like_person(text: str) -> bool:
    """True when ``text`` is two or three capitalised words, or "Last, First", none of them a word
    a header or a file name uses."""
    words = re.findall(r"[A-Za-z]+", text)
    if not 2 <= len(words) <= 3:
        return False
    shaped = re.fullmatch(
        r"[A-Z][a-z'\-]+(?:\s*,\s*|\s+)[A-Z][a-z'\-]+\.?(?:\s+[A-Z][a-z'\-]+)?", text.strip()
    )
    return bool(shaped) and not any(w.lower() in _KNOWN_WORDS for w in words)


def _strong_reasons(text: str, rules) -> list[str]:
    values = pa.array([text], type=pa.large_string())
    if not pc.match_substring_regex(values, _screen(rules))[0].as_py():
        return []
    return [
        reason
        for _, pattern, reason in rules
        if pc.match_substring_regex(values, pattern)[0].as_py()
    ]


def header_value_reason(header: str) -> str | None:
    """What the header ``header`` itself holds that identifies ("an e-mail address", "a person's
    name", ...), or None. Such a header is never echoed: :func:`column_label` names its column
    by position.

    Examples
    --------
    >>> header_value_reason("John Smith"), header_value_reason("Patient Name")
    ("a person's name", None)
    """
    found = _strong_reasons(header, [*_STRONG, *_BARE])
    if found:
        return "what looks like " + found[0]
    if _looks_like_person(header):
        return NAME
    return None


def column_label(header: str, position: int) -> str:
    """How problems name a column: its header as written, or "column N" (``position`` counted
    from 1) when the header itself identifies (:func:`header_value_reason`).

    Examples
    --------
    >>> column_label("dose_mg", 3), column_label("jane@example.org", 3)
    ('dose_mg', 'column 3')
    """
    return f"column {position}" if header_value_reason(header) else header


# ---------------------------------------------------------------------------------------------
# Values.


def _distinct(cells: pd.Series) -> pa.Array:
    """The distinct values of ``cells`` long enough to match a strong pattern (at least
    :data:`MIN_IDENTIFIER_CHARS` bytes), as Arrow text; blanks left out."""
    dtype = cells.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arrow = cells.array.__arrow_array__()
    else:
        arrow = pa.chunked_array(
            [pa.array(cells.dropna().astype(str).to_numpy(), type=pa.large_string())]
        )
    lengths = pc.binary_length(arrow)
    shortest = pc.min(lengths).as_py()
    if shortest is None:
        return pa.array([], type=pa.large_string())
    # Short numbers and codes ("41", "0.5", "no") are most cells of a long file: hashing them
    # is most of the cost, and none can be an identifier.
    if shortest < MIN_IDENTIFIER_CHARS:
        arrow = arrow.filter(pc.greater_equal(lengths, MIN_IDENTIFIER_CHARS))
    return pc.drop_null(pc.unique(arrow))


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    hit = pc.match_substring_regex(values, pattern)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _value_reasons(values: pa.Array, scope: _Scope) -> list[str]:
    """Reasons found among distinct ``values``: one cheap pass over the union of the patterns,
    then each pattern only when something matched."""
    rules = _patterns(scope)
    if not len(values) or not _matches(values, _screen(rules)).any():
        return []
    reasons: list[str] = []
    for _, pattern, reason in rules:
        if reason not in reasons and _matches(values, pattern).any():
            reasons.append(reason)
    return reasons


def looks_identifying(values: pd.Series, *, dates: bool = True) -> np.ndarray:
    """One bool per value of ``values``: True where it matches a strong pattern (e-mail, phone,
    social security or record number, street, web or IP address, a bare run of nine or ten
    digits, and, unless ``dates`` is False, a full date). Blank values are False.

    Used to blank the values problems would echo. Each distinct value is checked once.

    Examples
    --------
    >>> looks_identifying(pd.Series(["oral", "555-123-4567", None])).tolist()
    [False, True, False]
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.zeros(len(values), dtype=bool)
    distinct = pa.array([str(u) for u in uniques], type=pa.large_string())
    hit = _matches(distinct, _screen(_patterns(_Scope(dates=dates))))
    return np.where(codes >= 0, hit[np.maximum(codes, 0)], False)


def _band_ages(cells: pd.Series) -> pd.Series | None:
    """``cells`` with every age above :data:`OLDEST_AGE` written "90+", or None when there is
    none."""
    text = cells.astype("string")
    # Each distinct value once: a patients file of 100,000 rows holds a few dozen ages.
    codes, distinct = vocab.distinct_codes(text)
    number = pd.to_numeric(
        distinct.str.extract(r"(?i)^\s*([0-9]{1,3}(?:\.[0-9]+)?)\s*(?:y|yo|yr|yrs|years?)?\s*$")[0],
        errors="coerce",
    )
    old = (number > OLDEST_AGE).fillna(False).to_numpy(dtype=bool)[codes]
    if not old.any():
        return None
    return text.mask(old, AGE_BAND)


def _allow_list_reason(cells: pd.Series, *, age: bool, n_rows: int) -> str | None:
    """Why a descriptive column of a patients file is not kept, or None when it is (rule 8)."""
    counts = pc.value_counts(_distinct_with_counts(cells))
    values = counts.field("values")
    if not len(values):
        return None
    filled = int(pc.sum(counts.field("counts")).as_py())
    if _matches(values, _MONTH_YEAR).any() or _matches(values, _DATE).any():
        return "it holds dates or months (dates of patients identify them)"
    numbers_reason = (
        "it holds numbers other than small whole numbers (long numbers, or years such as a "
        "year of birth, may identify patients)"
    )
    numeric = _matches(values, _NUMBER)
    band = age & np.asarray(pc.equal(values, AGE_BAND).to_numpy(zero_copy_only=False), dtype=bool)
    # float64 always: a 20-digit number would otherwise leave the column as text
    number = pd.to_numeric(
        pd.Series(values.to_pylist(), dtype=object).where(numeric), errors="coerce"
    ).astype("float64")
    if (numeric | band).all():
        if age:
            fits = number.isna() | number.between(0, OLDEST_AGE)
        else:
            fits = pd.Series(_matches(values, _WHOLE)) & number.between(0, SMALL_NUMBER)
        return None if fits.all() else numbers_reason
    # A year (of birth) or a long number among labels.
    if (number[_matches(values, _WHOLE)] >= 100).any():
        return numbers_reason
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
    if len(values) > CATEGORY_LIMIT or (n_rows >= MANY_PATIENTS and len(values) > filled / 2):
        return (
            "it holds free text or many different values (a patients file keeps only "
            "categories and small whole numbers)"
        )
    if (lengths > LABEL_CHARS).any():
        return (
            f"it holds labels longer than {LABEL_CHARS} characters (a patients file keeps only "
            "short category labels)"
        )
    return None


def _distinct_with_counts(cells: pd.Series) -> pa.Array:
    dtype = cells.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pc.drop_null(cells.array.__arrow_array__()).combine_chunks()
    return pa.array(cells.dropna().astype(str).to_numpy(), type=pa.large_string())


# ---------------------------------------------------------------------------------------------
# The check.


@dataclass(frozen=True)
class IdentifierCheck:
    """What :func:`check_identifiers` found in one file.

    Attributes
    ----------
    problems : list of Problem
        One ERROR per refused column, in column order; ``row`` and ``value`` None, the rule
        starting with :data:`PHI_RULE_PREFIX`, the column named by :func:`column_label`.
    droppable : list of str
        Frame column names of the refused columns outside the contract, which the clinic may
        drop on import; contract columns (patient_id, clinician, site, dates, numbers) never are.
    frame : pandas.DataFrame
        The frame with ages above 89 written "90+" (the input itself when nothing was banded).
    banded : list of str
        Frame column names whose ages were banded.
    """

    problems: list[Problem]
    droppable: list[str]
    frame: pd.DataFrame
    banded: list[str] = field(default_factory=list)


def _header_rule(header: str, position: int, contract: str | None) -> tuple[str, str | None]:
    """How a problem names the column, and what its header says (None: nothing)."""
    by_value = header_value_reason(header)
    if by_value:
        return f"column {position}", f"its header itself holds {by_value}"
    by_name = header_reason(header)
    if by_name and contract not in ("clinician", "site"):
        return header, f"its header suggests {by_name}"
    return header, None


def _values_of_columns(frame: pd.DataFrame, scoped: list[tuple[str, str]]) -> dict[str, list]:
    """Column -> the reasons its values give (rules 4-7), threaded for long files."""

    def reasons(item: tuple[str, str]) -> list[str]:
        column, scope_name = item
        return _value_reasons(_distinct(frame[column]), _SCOPES[scope_name])

    # On two cores the threads only compete with the app serving the page.
    if len(frame) * len(scoped) < THREADED_CELLS or len(scoped) < 2 or (os.cpu_count() or 1) < 4:
        return {column: reasons((column, s)) for column, s in scoped}
    workers = min(len(scoped), os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip([c for c, _ in scoped], pool.map(reasons, scoped)))


def _scope_of(column: str, table: str, canonical: dict[str, str], date_columns) -> str:
    target = canonical.get(column)
    if column in date_columns or target in DATE_COLUMNS:
        return "date"
    if target == "patient_id":
        return "patient_id"
    if target in ("clinician", "site"):
        return "staff"
    if table == "patients":
        return "typed" if target in PATIENTS_CONTRACT else "descriptive"
    return "other" if target is None else "typed"


def check_identifiers(
    frame: pd.DataFrame,
    *,
    file: str,
    headers: list[str],
    table: str,
    canonical: dict[str, str],
    date_columns: frozenset[str] = frozenset(),
) -> IdentifierCheck:
    """Apply the identifier rules (see the module docstring) to one file's frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from :func:`analytics.ingest.reader.read_table`: normalised headers as column
        names, text cells, and ``_row`` (ignored).
    file : str
        The file name, for the problems.
    headers : list of str
        The headers as written, one per column of ``frame`` other than ``_row``.
    table : str
        "sessions", "assessments", "side_effects" or "patients".
    canonical : dict of str to str
        Frame column -> contract column, for the columns that map onto the contract.
    date_columns : frozenset of str, optional
        Frame columns that hold the contract's dates, besides those ``canonical`` maps onto
        session_date or assessment_date.

    Returns
    -------
    IdentifierCheck

    Raises
    ------
    ValueError
        When ``headers`` does not name every column, or ``table`` is not a known table.

    References
    ----------
    .. [1] 45 CFR 164.514(b)(2), the HIPAA Safe Harbor de-identification standard.
       https://www.ecfr.gov/current/title-45/section-164.514
    """
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    if len(headers) != len(columns):
        raise ValueError(
            f"headers has {len(headers)} names but the frame has {len(columns)} columns"
        )
    if table not in SYNONYMS:
        raise ValueError(f"unknown table {table!r}; one of {', '.join(SYNONYMS)}")
    problems: list[Problem] = []
    droppable: list[str] = []
    banded: dict[str, pd.Series] = {}
    n_rows = len(frame)
    scopes = [_scope_of(c, table, canonical, date_columns) for c in columns]
    by_header = [
        _header_rule(header, position, canonical.get(column))
        for position, (column, header) in enumerate(zip(columns, headers), start=1)
    ]
    by_values = _values_of_columns(
        frame, [(c, s) for c, s, h in zip(columns, scopes, by_header) if h[1] is None]
    )
    for column, header, scope_name, (label, rule) in zip(columns, headers, scopes, by_header):
        scope = _SCOPES[scope_name]
        contract = canonical.get(column)
        cells = frame[column]
        if rule is None and by_values.get(column):
            rule = "it contains what look like " + " and ".join(by_values[column])
        if rule is None and _is_age_header(header) and scope_name in ("descriptive", "other"):
            band = _band_ages(cells)
            if band is not None:
                banded[column] = band
                cells = band
        if rule is None and scope.allow_list:
            rule = _allow_list_reason(cells, age=_is_age_header(header), n_rows=n_rows)
        if rule is None:
            continue
        if scope_name in ("descriptive", "other"):
            fix = DROP_FIX
            droppable.append(column)
            banded.pop(column, None)
        else:
            fix = _FIXES.get(contract or "", _CONTRACT_FIX)
        problems.append(
            Problem(
                file=file,
                row=None,
                column=label,
                value=None,
                rule=f"{PHI_RULE_PREFIX}{rule}. {fix}",
                severity=ERROR,
            )
        )
    if banded:
        frame = frame.copy()
        for column, band in banded.items():
            frame[column] = band
    return IdentifierCheck(problems, droppable, frame, list(banded))


# ---------------------------------------------------------------------------------------------
# File names.

_FILE_BIRTH = re.compile(r"dob|birth|born|nacimiento", re.IGNORECASE)


def file_name_reason(name: str) -> str | None:
    """Why the file name ``name`` may identify a patient (rule 9), or None.

    The reason never repeats the name.

    Examples
    --------
    >>> file_name_reason("sessions.csv") is None, file_name_reason("export-2025-03-01.csv")
    (True, None)
    >>> file_name_reason("john_smith_1961-04-01.csv")
    'it holds a date next to what looks like a name'
    """
    base = re.split(r"[\\/]", name)[-1]
    stem = re.sub(r"\.(?:csv|tsv|txt|xlsx?|zip)$", "", base, flags=re.IGNORECASE)
    spaced = re.sub(r"[_]+", " ", stem)
    found = _strong_reasons(spaced, [r for r in _STRONG if r[0] != "date"] + list(_BARE))
    if found:
        return f"it holds what look like {found[0]}"
    words = re.findall(r"[A-Za-z]+", _ascii(stem))
    if any(_FILE_BIRTH.search(w) for w in words) or "dob" in header_words(stem):
        return "it suggests a date of birth"
    unknown = [w.isalpha() and w.lower() not in _KNOWN_WORDS and len(w) > 1 for w in words]
    dated = bool(_strong_reasons(spaced, [r for r in _STRONG if r[0] == "date"]))
    if dated and any(unknown):
        return "it holds a date next to what looks like a name"
    if any(a and b for a, b in zip(unknown, unknown[1:])):
        return "it holds what looks like a name"
    return None
