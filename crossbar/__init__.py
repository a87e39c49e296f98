"""crossbar-sim: memristor crossbar hardware for in-memory neural-network inference and training.

The ``crossbar`` package holds the array engine, the digital metaplastic-storage unit, the torch
layers and the ``crossbar`` command-line tool; device physics lives in :mod:`devices` and model
calibration in :mod:`calibration`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: Exported names and their modules, imported on first use (PEP 562): ``import crossbar`` stays
#: cheap, so the ``crossbar`` command starts fast and a Ctrl-C while it starts is handled by it.
_LAZY = {
    "ADCConfig": ".config",
    "CrossbarArray": ".array",
    "CrossbarConfig": ".config",
    "DACConfig": ".config",
    "EnergyModel": ".config",
    "MVMStats": ".array",
    "TiledMatrix": ".array",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crossbar' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ADCConfig",
    "CrossbarArray",
    "CrossbarConfig",
    "DACConfig",
    "EnergyModel",
    "MVMStats",
    "TiledMatrix",
    "__version__",
]
