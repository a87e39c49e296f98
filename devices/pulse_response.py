"""A device driven by identical pulses, from a measured pulse-response fit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._jit import jit_parallel, prange
from ._rng import derive_key, normal
from ._validation import InvalidParameterError, as_generator, check_int, check_real, readonly
from .endurance import EnduranceCounters
from .params import PulseResponseParams

__all__ = ["PulseResponseDevice"]

_OWNER = "PulseResponseDevice"
_STREAM = 40


@jit_parallel
def _pulse_kernel(g, n, pot_count, dep_count, key, g_inf_pot, f_pot, a_pot, b_pot,
                  g_inf_dep, f_dep, a_dep, b_dep, g_min, g_max):  # fmt: skip
    """Apply ``n[i]`` pulses to device i (positive: potentiation, negative: depression)."""
    for i in prange(g.size):
        k = n[i]
        x = g[i]
        steps = abs(k)
        for s in range(steps):
            ctr = (np.uint64(i) << np.uint64(24)) | np.uint64(s)
            if k > 0:
                sd = max(a_pot + b_pot * x, 0.0)
                x += (g_inf_pot - x) * f_pot + sd * normal(key, ctr)
            else:
                sd = max(a_dep + b_dep * x, 0.0)
                x += (g_inf_dep - x) * f_dep + sd * normal(key, ctr)
            x = min(max(x, g_min), g_max)
        g[i] = x
        if k > 0:
            pot_count[i] += k
        else:
            dep_count[i] += -k


class PulseResponseDevice:
    """A population of devices that follow a fitted pulse response (``PulseResponseParams``).

    Parameters
    ----------
    n_devices : int
    params : PulseResponseParams
        E.g. ``devices.presets.from_json("pulse_response.json")`` after ``crossbar fit
        pulse-response``.
    g_init_s : float, optional
        Initial conductance (S); default the middle of ``[g_min_s, g_max_s]``.
    rng : int, numpy.random.Generator or None
        Seed of the cycle-to-cycle noise (counter-based: results do not depend on threads).
    """

    def __init__(self, n_devices: int, params: PulseResponseParams,
                 g_init_s: float | None = None,
                 rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        self.n_devices = check_int("n_devices", n_devices, _OWNER, 1, 2**40)
        if not isinstance(params, PulseResponseParams):
            raise InvalidParameterError(
                f"The 'params' parameter of {_OWNER} must be a PulseResponseParams. "
                f"Got {type(params).__name__} instead."
            )
        self.params = params
        mid = 0.5 * (params.g_min_s + params.g_max_s)
        g0 = mid if g_init_s is None else check_real("g_init_s", g_init_s, _OWNER, params.g_min_s,
                                                     params.g_max_s)  # fmt: skip
        self._g = np.full(self.n_devices, g0)
        self._seed = int(as_generator(rng, _OWNER).integers(0, 2**63, dtype=np.int64))
        self._calls = 0
        self.counters = EnduranceCounters(self.n_devices, ("potentiation", "depression"))

    def apply_pulses(self, n: Any) -> None:
        """Apply pulses: an int for all devices or one per device; > 0 potentiation, < 0
        depression."""
        arr = np.asarray(n)
        if arr.ndim == 0:
            arr = np.full(self.n_devices, arr)
        if (arr.shape != (self.n_devices,) or arr.dtype.kind not in "iu"
                or (arr.size and np.abs(arr).max() >= 2**24)):  # fmt: skip
            raise InvalidParameterError(
                f"The 'n' parameter of {_OWNER}.apply_pulses must be integers with |n| < 2**24, "
                f"one per device ({self.n_devices}) or one for all. Got {n!r} instead."
            )
        p = self.params
        _pulse_kernel(
            self._g, arr.astype(np.int64), self.counters.array("potentiation"),
            self.counters.array("depression"), derive_key(self._seed, _STREAM, self._calls),
            p.g_inf_pot_s, 1 - math.exp(-1 / p.n0_pot_pulses), p.noise_intercept_pot_s,
            p.noise_slope_pot, p.g_inf_dep_s, 1 - math.exp(-1 / p.n0_dep_pulses),
            p.noise_intercept_dep_s, p.noise_slope_dep, p.g_min_s, p.g_max_s,
        )  # fmt: skip
        self._calls += 1

    def conductance(self) -> np.ndarray:
        """Conductance per device (S), read-only."""
        return readonly(self._g)

    def resistance(self) -> np.ndarray:
        """Resistance per device (ohm)."""
        return 1.0 / self._g

    @property
    def pulse_count(self) -> np.ndarray:
        """Pulses received per device."""
        return self.counters.pulse_count
