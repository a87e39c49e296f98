"""Device physics of memristive memories: numpy + numba only.

``WeakResetRRAM``
    HfOx RRAM driven by weak-RESET pulses (Majumdar et al., IEEE TED 2021): progressive,
    stochastic resistance change per pulse, device-to-device variability, random telegraph noise
    and 1/f noise, with endurance counters.
"""

from . import presets
from ._validation import InvalidParameterError
from .distributions import TruncatedDistribution
from .endurance import EnduranceCounters
from .params import WeakResetParams
from .weak_reset import NOISE_MODES, WeakResetRRAM, mean_log_resistance

__all__ = [
    "NOISE_MODES",
    "EnduranceCounters",
    "InvalidParameterError",
    "TruncatedDistribution",
    "WeakResetParams",
    "WeakResetRRAM",
    "mean_log_resistance",
    "presets",
]
