"""The outcome definitions the user chose on the Settings page, and the sidebar that shows them."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from analytics.core.definitions import OutcomeDefinitions, Window

__all__ = [
    "DEFAULT_SETTINGS",
    "current_definitions",
    "definition_overrides",
    "render_definitions_sidebar",
    "reset_settings",
    "save_settings",
    "settings",
    "settings_key",
]

# Settings the user may change on the Settings page; None means "the instrument's default".
DEFAULT_SETTINGS: dict[str, Any] = {
    "response": None,
    "remission_cut": None,
    "reliability_r": None,
    "sd_pre": None,
    "windows": None,
    "km_band": None,
    "min_patients": None,
}

_SETTINGS_KEY = "clinic_settings"


def settings() -> dict[str, Any]:
    """The outcome definitions the user chose (a copy); defaults until changed."""
    stored = st.session_state.get(_SETTINGS_KEY)
    return dict(DEFAULT_SETTINGS if stored is None else stored)


def save_settings(values: dict[str, Any]) -> None:
    st.session_state[_SETTINGS_KEY] = {**DEFAULT_SETTINGS, **values}


def reset_settings() -> None:
    st.session_state.pop(_SETTINGS_KEY, None)


def settings_key(values: dict[str, Any] | None = None) -> str:
    values = settings() if values is None else values
    return json.dumps(values, sort_keys=True, default=str)


def definition_overrides(values: dict[str, Any], instrument: str = "PCL-5") -> dict[str, Any]:
    """The settings as keyword overrides of ``OutcomeDefinitions.for_instrument(instrument)``.

    A chosen response rule, reliability r and the windows apply to every instrument; the
    remission cut and the baseline SD are PCL-5 points, so they apply to the PCL-5 only. None
    leaves the analytics' default for the instrument.
    """
    overrides: dict[str, Any] = {}
    if values.get("response"):
        overrides["response"] = str(values["response"])
    if values.get("reliability_r") is not None:
        overrides["reliability_r"] = float(values["reliability_r"])
    if instrument == "PCL-5" and values.get("remission_cut") is not None:
        overrides["remission_below"] = float(values["remission_cut"])
    if instrument == "PCL-5" and values.get("sd_pre") is not None:
        overrides["reliability_sd"] = float(values["sd_pre"])
    if values.get("windows"):
        overrides["windows"] = tuple(Window(*row) for row in values["windows"])
    if values.get("km_band"):
        overrides["km_band"] = str(values["km_band"])
    if values.get("min_patients") is not None:
        overrides["min_patients"] = int(values["min_patients"])
    return overrides


def current_definitions(instrument: str = "PCL-5") -> OutcomeDefinitions:
    """``OutcomeDefinitions`` for ``instrument`` with the user's settings.

    Raises
    ------
    ValueError
        When a setting is not accepted by the definitions (the Settings page shows it).
    """
    return OutcomeDefinitions.for_instrument(
        instrument, **definition_overrides(settings(), instrument)
    )


def render_definitions_sidebar() -> None:
    """The definitions in force, one expander away in the sidebar."""
    with st.sidebar.expander("Definitions in force", icon=":material/menu_book:"):
        try:
            definitions = current_definitions()
        except ValueError as error:
            st.warning(f"A setting was not accepted: {error}")
            return
        for name, text in definitions.describe().items():
            if isinstance(text, list):
                text = "; ".join(map(str, text))
            elif isinstance(text, dict):
                text = ", ".join(f"{k} {v}" for k, v in text.items())
            st.markdown(f"**{name.replace('_', ' ').capitalize()}**: {text}")
        st.caption("Change them on the Settings page.")
