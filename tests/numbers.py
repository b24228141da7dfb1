"""Comparing nested results (summaries, page numbers) field by field."""

import dataclasses
import math

__all__ = ["differences"]


def differences(got, want, path: str = "") -> list[str]:
    """Where ``got`` and ``want`` differ: counts, labels and None exactly; floats to 1e-12
    relative (the reference was written on one machine, and a sum's last bit may differ on
    another CPU's vector width). Dataclasses compare as their fields; NaN equals NaN."""
    if dataclasses.is_dataclass(want) and dataclasses.is_dataclass(got):
        return differences(dataclasses.asdict(got), dataclasses.asdict(want), path)
    if isinstance(want, float) and isinstance(got, float):
        if math.isnan(want) and math.isnan(got):
            return []
        return [] if math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12) else [path]
    if type(got) is not type(want):
        return [f"{path}: {type(got).__name__} != {type(want).__name__}"]
    if isinstance(want, dict):
        if got.keys() != want.keys():
            return [f"{path}: keys {sorted(got.keys() ^ want.keys())}"]
        return [d for k in want for d in differences(got[k], want[k], f"{path}/{k}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != {len(want)}"]
        return [
            d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]
