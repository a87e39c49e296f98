"""crossbar-sim: memristor crossbar hardware for in-memory neural-network inference and training.

The ``crossbar`` package holds the array engine, the digital metaplastic-storage unit, the torch
layers and the ``crossbar`` command-line tool; device physics lives in :mod:`devices` and model
calibration in :mod:`calibration`.
"""

__version__ = "0.1.0"

from .array import CrossbarArray, MVMStats, TiledMatrix
from .config import ADCConfig, CrossbarConfig, DACConfig, EnergyModel

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
