"""Device physics of memristive memories: numpy + numba only.

``WeakResetRRAM``
    HfOx RRAM driven by weak-RESET pulses (Majumdar et al., IEEE TED 2021): progressive,
    stochastic resistance change per pulse, device-to-device variability, random telegraph noise
    and 1/f noise, with endurance counters.
``MultiLevelRRAM``
    130 nm HfO2 1T1R cells programmed to K conductance levels by program-and-verify, with
    relaxation, read noise, stuck-at faults and wear-out (CEA-Leti; docs/devices.md).
``STTMRAM``
    Binary spin-transfer-torque MRAM with write errors and write energy (docs/devices.md).
"""

from . import presets
from ._validation import InvalidParameterError
from .distributions import TruncatedDistribution
from .endurance import EnduranceCounters, WearOut
from .mram import STTMRAM, pulse_for_wer, write_energy_j, write_error_rate
from .multilevel import ALLOCATIONS, CellPool, MultiLevelRRAM, ProgramResult, allocate_levels
from .params import (
    MultiLevelParams,
    PulseResponseParams,
    STTMRAMParams,
    WeakResetParams,
    WearOutParams,
)
from .pulse_response import PulseProgramResult, PulseResponseDevice
from .weak_reset import NOISE_MODES, WeakResetRRAM, mean_log_resistance

__all__ = [
    "ALLOCATIONS",
    "NOISE_MODES",
    "STTMRAM",
    "CellPool",
    "EnduranceCounters",
    "InvalidParameterError",
    "MultiLevelParams",
    "MultiLevelRRAM",
    "ProgramResult",
    "PulseProgramResult",
    "PulseResponseDevice",
    "PulseResponseParams",
    "STTMRAMParams",
    "TruncatedDistribution",
    "WeakResetParams",
    "WeakResetRRAM",
    "WearOut",
    "WearOutParams",
    "allocate_levels",
    "mean_log_resistance",
    "presets",
    "pulse_for_wer",
    "write_energy_j",
    "write_error_rate",
]
