"""Named, cited parameter sets of the device models, and their JSON files.

``MAJUMDAR2021``
    HfOx weak-RESET model fitted on hybrid CMOS/RRAM (CEA-Leti 130 nm) devices: A. Majumdar,
    M. Bocquet, T. Hirtzlin, A. Laborieux, J.-O. Klein, E. Nowak, E. Vianello, J.-M. Portal,
    D. Querlioz, "Model of the Weak Reset Process in HfOx Resistive Memory for Deep Learning
    Frameworks", IEEE Trans. Electron Devices 68(10), 2021, arXiv:2107.06064. Distribution
    parameters and truncations from the authors' released code
    (github.com/Atreya95/Learning-with-memory-device-imperfections, ``MLP/utils.py``,
    ``ConvNet/utils_device.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._state import replace_atomically
from ._validation import InvalidParameterError, closest
from .distributions import TruncatedDistribution
from .params import (
    MultiLevelParams,
    PulseResponseParams,
    STTMRAMParams,
    WeakResetParams,
    WearOutParams,
)

__all__ = ["FORMAT_VERSION", "MAJUMDAR2021", "PRESETS", "from_json", "get_preset", "to_json"]

#: Version of the parameter-file format written by :func:`to_json`.
FORMAT_VERSION = 1

MAJUMDAR2021 = WeakResetParams(
    m1_per_pulse=TruncatedDistribution("expon", 3.7415768e-5, 6.5646780e-4, None, 3.74e-5, 7.6e-3),
    t_star_pulses=TruncatedDistribution("lognorm", 0.0, 542.53852, 0.80338177, 41.0, 2000.0),
    c1=TruncatedDistribution("norm", 5.2931410e-3, 5.3208042e-2, None, -0.15, 0.15),
    m2_per_pulse=TruncatedDistribution("expon", 1.6445e-34, 2.8890517e-5, None, 0.0, 1.3e-4),
    r0_ohm=TruncatedDistribution("norm", 6988.0, 381.7, None, 6252.0, 7897.0),
    rtn_amplitude=TruncatedDistribution("uniform", 0.0, 0.5),
    rtn_p_up_per_pulse=8e-4,
    rtn_p_down_per_pulse=2e-3,
    pink_alpha=0.025,
    pink_taps=15,
    fit_max_pulses=2000,
    name="MAJUMDAR2021",
    citation=(
        "A. Majumdar et al., 'Model of the Weak Reset Process in HfOx Resistive Memory for Deep "
        "Learning Frameworks', IEEE Trans. Electron Devices 68(10), 2021, arXiv:2107.06064; "
        "values from the authors' code (Atreya95/Learning-with-memory-device-imperfections)."
    ),
)

CEA_LETI_130NM = MultiLevelParams(
    name="CEA_LETI_130NM",
    citation=(
        "130 nm HfO2 1T1R (CEA-Leti): TiN/HfOx/Ti, SET V_WL 1.4-2.2 V for 1 us, program-and-verify "
        "and sigma falling with G from T. Bonnet et al., Nat. Commun. 14:7530 (2023), Methods; "
        "relaxation at 60 s, low levels relaxing most, BER < 1e-3 acceptance from Esmanhotto et "
        "al., IEDM 2020 (secondary). Numerical sigmas, D2D, HRS and the I_cc map are inferred "
        "(docs/devices.md), calibrated to BER < 1e-3 with 8 levels in 20-120 uS."
    ),
)

HIRTZLIN2019_STTMRAM = STTMRAMParams(
    name="HIRTZLIN2019_STTMRAM",
    citation=(
        "Standard macrospin write-error model with the defaults of docs/devices.md (Delta 60, I_c0 50 uA, "
        "tau_D 1 ns, tau_0 1 ns, 0.5 V); used for the BNN-in-ST-MRAM study of T. Hirtzlin et al., "
        "NANOARCH 2019. The model is not taken from that paper's text [unverified]."
    ),
)

#: Read-only registry of the presets, by name.
PRESETS = MappingProxyType(
    {
        "MAJUMDAR2021": MAJUMDAR2021,
        "CEA_LETI_130NM": CEA_LETI_130NM,
        "HIRTZLIN2019_STTMRAM": HIRTZLIN2019_STTMRAM,
    }
)

_MODELS = {"weak-reset": WeakResetParams}


def get_preset(name: str) -> Any:
    """Return the preset called ``name`` (case-insensitive); suggest the closest on a typo."""
    if isinstance(name, str):
        for key, value in PRESETS.items():
            if key.lower() == name.lower():
                return value
    raise InvalidParameterError(
        f"The 'name' parameter of get_preset must be one of {', '.join(map(repr, PRESETS))}. "
        f"Got {name!r} instead." + (closest(name.upper(), PRESETS) if isinstance(name, str) else "")
    )


def resolve(params: Any, kind: type, owner: str, default: Any) -> Any:
    """``params`` as a parameter object of class ``kind``: ``None`` gives ``default``, a string the
    preset of that name; anything else must already be a ``kind``."""
    if params is None:
        return default
    if isinstance(params, str):
        params = get_preset(params)
    if not isinstance(params, kind):
        raise InvalidParameterError(
            f"The 'params' parameter of {owner} must be a {kind.__name__} or the name of such a "
            f"preset. Got {type(params).__name__} instead."
        )
    return params


def check_wear_out(wear_out: Any, owner: str) -> None:
    """Check that ``wear_out`` is a WearOutParams or None."""
    if wear_out is not None and not isinstance(wear_out, WearOutParams):
        raise InvalidParameterError(
            f"The 'wear_out' parameter of {owner} must be a WearOutParams or None. "
            f"Got {type(wear_out).__name__} instead."
        )


def to_json(
    params: WeakResetParams | MultiLevelParams,
    path: str | os.PathLike[str] | None = None,
    fit: dict[str, Any] | None = None,
) -> str:
    """Write ``params`` as a versioned JSON parameter file; return the JSON text.

    The file holds ``"version"``, ``"model"``, ``"name"``, ``"citation"``, ``"parameters"`` (for every
    D2D parameter: ``family``, scipy ``params``, ``lower``, ``upper``, ``median``, ``mean``) and
    ``"constants"`` (the shared noise constants); ``fit``, if given, is stored under ``"fit"``
    (what a calibration left out and its intervals; :func:`from_json` does not read it).
    """
    if isinstance(params, MultiLevelParams):
        fields = dataclasses.asdict(params)
        doc = {"version": FORMAT_VERSION, "model": "multilevel",
               "name": fields.pop("name"), "citation": fields.pop("citation"),
               "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}  # fmt: skip
    else:
        doc = {"version": FORMAT_VERSION, "model": "weak-reset", **params.to_dict()}
    if fit is not None:
        doc["fit"] = fit
    text = json.dumps(doc, indent=2, allow_nan=False)
    if path is not None:  # written beside the target and renamed: never half a file
        replace_atomically(path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    return text


def from_json(path: str | os.PathLike[str]) -> Any:
    """Load a parameter file written by :func:`to_json` (or by ``crossbar fit``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise InvalidParameterError(f"{path}: no such parameter file.") from None
    except json.JSONDecodeError as exc:
        raise InvalidParameterError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})."
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(f"{path}: not UTF-8 text (byte {exc.start}).") from None
    except (IsADirectoryError, PermissionError, RecursionError) as exc:
        raise InvalidParameterError(f"{path}: cannot read the parameter file ({exc}).") from None
    return from_dict(doc, where=str(path))


def from_dict(doc: Any, where: str = "parameter file") -> Any:
    """Build parameters from the decoded JSON document of :func:`to_json`."""
    if not isinstance(doc, dict):
        raise InvalidParameterError(f"{where}: the top level must be a JSON object.")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise InvalidParameterError(
            f"{where}: 'version' must be {FORMAT_VERSION}. Got {version!r} instead."
        )
    model = doc.get("model")
    if model == "pulse-response":
        return PulseResponseParams.from_fit_dict(doc, where)
    if model == "multilevel":
        values = doc.get("parameters")
        if not isinstance(values, dict):
            raise InvalidParameterError(f"{where}: missing the 'parameters' object.")
        known = {f.name for f in dataclasses.fields(MultiLevelParams)}
        unknown = set(values) - known
        if unknown:
            raise InvalidParameterError(
                f"{where}: unknown multilevel parameters {sorted(unknown)}."
            )
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return MultiLevelParams(**kwargs, name=str(doc.get("name", "custom")),
                                citation=str(doc.get("citation", "")))  # fmt: skip
    if model not in _MODELS:
        raise InvalidParameterError(
            f"{where}: 'model' must be one of {', '.join(map(repr, (*_MODELS, 'multilevel', 'pulse-response')))}. "
            f"Got {model!r} instead."
            + (
                closest(model, (*_MODELS, "pulse-response", "multilevel"))
                if isinstance(model, str)
                else ""
            )
        )
    return _MODELS[model].from_dict(doc, where=where)
