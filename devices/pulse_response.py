"""A device driven by identical pulses, from a measured pulse-response fit.

The device follows the soft-bounds law of :class:`~devices.params.PulseResponseParams` pulse by
pulse. It can be programmed to a target conductance by closed-loop pulse programming
(:meth:`PulseResponseDevice.program`), which is how crossbar tiles write it:

1. verify read: if ``|G - G_target| <= tol`` the cell is done;
2. else one potentiation pulse if ``G < G_target``, one depression pulse otherwise; back to 1,
   at most ``max_pulses`` pulses.

With the default tolerance, half the largest mean step a single pulse makes anywhere in the
window, the loop converges without noise (a step never jumps over the whole tolerance band);
with cycle-to-cycle noise it may need more pulses, and cells that run out of pulses are
reported in :attr:`PulseProgramResult.converged`, never silently accepted.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._rng import derive_key, normal
from ._state import copy_checked, read_state, reading, write_state
from ._validation import InvalidParameterError, as_generator, check_int, check_real, readonly
from .endurance import EnduranceCounters, WearOut, wear_from_dict, wear_to_dict
from .params import PulseResponseParams, WearOutParams

__all__ = ["PulseProgramResult", "PulseResponseDevice", "max_mean_step_s", "program_window_s"]

_OWNER = "PulseResponseDevice"
_STREAM = 40
_STREAM_PROGRAM = 41
_STATE_FORMAT = "crossbar-sim/pulse-response-state"
_STATE_VERSION = 1
_COUNTER_BITS = np.uint64(24)  # pulses per device and call: the low bits of the counter


@jit
def _one_pulse(x, up, key, ctr, g_inf_pot, f_pot, a_pot, b_pot, g_inf_dep, f_dep, a_dep, b_dep,
               g_min, g_max):  # fmt: skip
    """One potentiation (``up``) or depression pulse from conductance ``x``."""
    if up:
        sd = max(a_pot + b_pot * x, 0.0)
        x += (g_inf_pot - x) * f_pot + sd * normal(key, ctr)
    else:
        sd = max(a_dep + b_dep * x, 0.0)
        x += (g_inf_dep - x) * f_dep + sd * normal(key, ctr)
    return min(max(x, g_min), g_max)


@jit
def _wear(i, pot_count, dep_count, failed, limit, stuck_lrs, g_min, g_max):
    """Fail device ``i`` once its pulse count passes its limit; returns its stuck conductance
    (or -1 while it works)."""
    if not failed[i] and pot_count[i] + dep_count[i] > limit[i]:
        failed[i] = True
    if failed[i]:
        return g_max if stuck_lrs[i] else g_min
    return -1.0


@jit_parallel
def _pulse_kernel(g, n, pot_count, dep_count, failed, limit, stuck_lrs, key, g_inf_pot, f_pot,
                  a_pot, b_pot, g_inf_dep, f_dep, a_dep, b_dep, g_min, g_max):  # fmt: skip
    """Apply ``n[i]`` pulses to device i (positive: potentiation, negative: depression)."""
    for i in prange(g.size):
        k = n[i]
        up = k > 0
        x = g[i]
        for s in range(abs(k)):
            if up:
                pot_count[i] += 1
            else:
                dep_count[i] += 1
            stuck = _wear(i, pot_count, dep_count, failed, limit, stuck_lrs, g_min, g_max)
            if stuck >= 0.0:  # a worn-out device still receives (and counts) the pulse
                x = stuck
                continue
            ctr = (np.uint64(i) << _COUNTER_BITS) | np.uint64(s)
            x = _one_pulse(x, up, key, ctr, g_inf_pot, f_pot, a_pot, b_pot, g_inf_dep, f_dep,
                           a_dep, b_dep, g_min, g_max)  # fmt: skip
        g[i] = x


@jit_parallel
def _program_kernel(g, cells, targets, tol, max_pulses, pot_count, dep_count, verify_count,
                    failed, limit, stuck_lrs, pulses, converged, key, g_inf_pot, f_pot, a_pot,
                    b_pot, g_inf_dep, f_dep, a_dep, b_dep, g_min, g_max):  # fmt: skip
    """Closed-loop pulse programming of ``cells[j]`` to ``targets[j]`` (module docstring)."""
    for j in prange(cells.size):
        i = cells[j]
        x = g[i]
        done = False
        n = 0
        while True:
            verify_count[i] += 1
            if abs(x - targets[j]) <= tol:
                done = True
                break
            if n == max_pulses:
                break
            up = x < targets[j]
            if up:
                pot_count[i] += 1
            else:
                dep_count[i] += 1
            stuck = _wear(i, pot_count, dep_count, failed, limit, stuck_lrs, g_min, g_max)
            if stuck >= 0.0:
                x = stuck
                n += 1
                break
            ctr = (np.uint64(i) << _COUNTER_BITS) | np.uint64(n)
            x = _one_pulse(x, up, key, ctr, g_inf_pot, f_pot, a_pot, b_pot, g_inf_dep, f_dep,
                           a_dep, b_dep, g_min, g_max)  # fmt: skip
            n += 1
        g[i] = x
        pulses[j] = n
        converged[j] = done


def _law(p: PulseResponseParams) -> tuple[float, ...]:
    return (
        p.g_inf_pot_s, 1 - math.exp(-1 / p.n0_pot_pulses), p.noise_intercept_pot_s,
        p.noise_slope_pot, p.g_inf_dep_s, 1 - math.exp(-1 / p.n0_dep_pulses),
        p.noise_intercept_dep_s, p.noise_slope_dep, p.g_min_s, p.g_max_s,
    )  # fmt: skip


def max_mean_step_s(params: PulseResponseParams) -> float:
    """The largest mean conductance change of one pulse (either direction) in the window, S.

    The mean step ``|g_inf - G| * |1 - exp(-1/n0)|`` is linear in ``G``, so its maximum over
    ``[g_min_s, g_max_s]`` is at an end of the window.
    """
    g_inf_pot, f_pot, _, _, g_inf_dep, f_dep, _, _, lo, hi = _law(params)
    return max(abs(g_inf - g) * abs(f) for g in (lo, hi)
               for g_inf, f in ((g_inf_pot, f_pot), (g_inf_dep, f_dep)))  # fmt: skip


def program_window_s(params: PulseResponseParams) -> tuple[float, float]:
    """The conductances closed-loop pulse programming reaches, S.

    Potentiation pulses saturate at ``g_inf_pot_s`` when ``n0_pot_pulses > 0`` (and depression
    at ``g_inf_dep_s``), which they approach but never pass; such an end of ``[g_min_s, g_max_s]``
    is pulled in to one default tolerance (half of :func:`max_mean_step_s`) inside the asymptote,
    so that every target in the window converges without noise. An accelerating direction
    (``n0 < 0``) moves away from its asymptote: potentiation raises G only above ``g_inf_pot_s``,
    depression lowers it only below ``g_inf_dep_s``, which bound the window from the other side.
    """
    p = params
    tol = 0.5 * max_mean_step_s(p)
    lo, hi = p.g_min_s, p.g_max_s
    if p.n0_dep_pulses > 0:
        lo = max(lo, p.g_inf_dep_s + tol)
    else:  # accelerating depression only lowers G below its asymptote
        hi = min(hi, p.g_inf_dep_s - tol)
    if p.n0_pot_pulses > 0:
        hi = min(hi, p.g_inf_pot_s - tol)
    else:  # accelerating potentiation only raises G above its asymptote
        lo = max(lo, p.g_inf_pot_s + tol)
    if not lo < hi:
        raise InvalidParameterError(
            f"The pulse response {p.name!r} cannot be programmed: its asymptotes leave no "
            f"conductance range inside [{p.g_min_s!r}, {p.g_max_s!r}] S (got [{lo!r}, {hi!r}])."
        )
    return lo, hi


@dataclasses.dataclass(frozen=True)
class PulseProgramResult:
    """Outcome of one closed-loop pulse-programming call.

    Attributes
    ----------
    cells : ndarray of int64
        The programmed devices.
    targets_s : ndarray of float64
        Their target conductances (S).
    pulses : ndarray of int64
        Programming pulses each device received (its verify reads are ``pulses + 1``, or
        ``pulses`` when it wore out during the call).
    converged : ndarray of bool
        Whether the last verify read was within the tolerance (always False for a device that
        wore out during the call).
    """

    cells: np.ndarray
    targets_s: np.ndarray
    pulses: np.ndarray
    converged: np.ndarray

    @property
    def n_not_converged(self) -> int:
        """Devices that ran out of pulses (or wore out) before reaching their target."""
        return int((~self.converged).sum())

    @property
    def mean_iterations(self) -> float:
        """Mean programming pulses per device."""
        return float(self.pulses.mean()) if self.pulses.size else 0.0

    def __repr__(self) -> str:
        return (
            f"PulseProgramResult(cells={self.cells.size}, mean_pulses={self.mean_iterations:.2f}, "
            f"not_converged={self.n_not_converged})"
        )


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
    wear_out : WearOutParams or None
        Endurance limits: the pulse that takes a device's pulse count past its limit leaves it
        stuck at ``g_max_s`` (LRS) or ``g_min_s`` (HRS). None (default): no wear-out.
    rng : int, numpy.random.Generator or None
        Seed of the cycle-to-cycle noise and the endurance limits (counter-based noise: results
        do not depend on threads).

    Notes
    -----
    Counters: ``"potentiation"`` and ``"depression"`` pulses (both programming pulses) and
    ``"verify_read"`` (reads of the programming loop, not pulses).
    """

    def __init__(self, n_devices: int, params: PulseResponseParams,
                 g_init_s: float | None = None, wear_out: WearOutParams | None = None,
                 rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        self.n_devices = check_int("n_devices", n_devices, _OWNER, 1, 2**40)
        if not isinstance(params, PulseResponseParams):
            raise InvalidParameterError(
                f"The 'params' parameter of {_OWNER} must be a PulseResponseParams. "
                f"Got {type(params).__name__} instead."
            )
        if wear_out is not None and not isinstance(wear_out, WearOutParams):
            raise InvalidParameterError(
                f"The 'wear_out' parameter of {_OWNER} must be a WearOutParams or None. "
                f"Got {type(wear_out).__name__} instead."
            )
        self.params = params
        mid = 0.5 * (params.g_min_s + params.g_max_s)
        g0 = mid if g_init_s is None else check_real("g_init_s", g_init_s, _OWNER, params.g_min_s,
                                                     params.g_max_s)  # fmt: skip
        self._g = np.full(self.n_devices, g0)
        gen = as_generator(rng, _OWNER)
        self._seed = int(gen.integers(0, 2**63, dtype=np.int64))
        self._calls = 0
        self.wear = WearOut(self.n_devices, wear_out, gen)
        self.counters = EnduranceCounters(
            self.n_devices, ("potentiation", "depression", "verify_read"), ("verify_read",)
        )

    # -- the law -----------------------------------------------------------------------------------
    def _law(self) -> tuple[float, ...]:
        return _law(self.params)

    def max_mean_step_s(self) -> float:
        """:func:`max_mean_step_s` of the device's parameters."""
        return max_mean_step_s(self.params)

    def program_window_s(self) -> tuple[float, float]:
        """:func:`program_window_s` of the device's parameters."""
        return program_window_s(self.params)

    def default_max_pulses(self) -> int:
        """Pulse budget of :meth:`program`: four times the pulses of a full ramp, at least 100."""
        p = self.params
        return max(100, int(4 * (abs(p.n0_pot_pulses) + abs(p.n0_dep_pulses))))

    # -- pulses --------------------------------------------------------------------------------------
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
        _pulse_kernel(
            self._g, arr.astype(np.int64), self.counters.array("potentiation"),
            self.counters.array("depression"), self.wear.failed, self.wear.limit,
            self.wear.stuck_lrs_on_failure, derive_key(self._seed, _STREAM, self._calls),
            *self._law(),
        )  # fmt: skip
        self._calls += 1

    def program(self, targets_s: Any, cells: Any = None, tolerance_s: float | None = None,
                max_pulses: int | None = None) -> PulseProgramResult:  # fmt: skip
        """Closed-loop pulse programming to target conductances (module docstring).

        Parameters
        ----------
        targets_s : float array
            Target conductance per device (S), inside ``[g_min_s, g_max_s]``; shape
            ``(n_devices,)``, or ``(len(cells),)`` with ``cells``.
        cells : int array, optional
            Distinct device indices to program; all devices if omitted.
        tolerance_s : float, optional
            Verify window half-width (S); default half of :meth:`max_mean_step_s`.
        max_pulses : int, optional
            Pulse budget per device; default :meth:`default_max_pulses`.

        Returns
        -------
        PulseProgramResult
        """
        p = self.params
        idx = self._check_cells(cells)
        tgt = np.asarray(targets_s, dtype=np.float64) if _is_real_array(targets_s) else None
        if tgt is None or tgt.shape != idx.shape or not np.all(np.isfinite(tgt)):
            raise InvalidParameterError(
                f"The 'targets_s' parameter of {_OWNER}.program must be finite conductances of "
                f"shape {idx.shape}. Got {_describe(targets_s)} instead."
            )
        if tgt.size and (tgt.min() < p.g_min_s or tgt.max() > p.g_max_s):
            bad = int(np.argmax((tgt < p.g_min_s) | (tgt > p.g_max_s)))
            raise InvalidParameterError(
                f"The 'targets_s' parameter of {_OWNER}.program must lie in the window "
                f"[{p.g_min_s!r}, {p.g_max_s!r}] S. Got {tgt[bad]!r} at position {bad} instead."
            )
        tol = (0.5 * self.max_mean_step_s() if tolerance_s is None
               else check_real("tolerance_s", tolerance_s, _OWNER, 0.0, low_open=True))  # fmt: skip
        budget = (self.default_max_pulses() if max_pulses is None
                  else check_int("max_pulses", max_pulses, _OWNER, 0, 2**24 - 1))  # fmt: skip
        pulses = np.empty(idx.size, dtype=np.int64)
        converged = np.empty(idx.size, dtype=np.bool_)
        _program_kernel(
            self._g, idx, np.ascontiguousarray(tgt), tol, budget,
            self.counters.array("potentiation"), self.counters.array("depression"),
            self.counters.array("verify_read"), self.wear.failed, self.wear.limit,
            self.wear.stuck_lrs_on_failure, pulses, converged,
            derive_key(self._seed, _STREAM_PROGRAM, self._calls), *self._law(),
        )  # fmt: skip
        self._calls += 1
        return PulseProgramResult(idx, tgt.copy(), pulses, converged)

    def _check_cells(self, cells: Any) -> np.ndarray:
        if cells is None:
            return np.arange(self.n_devices, dtype=np.int64)
        idx = np.asarray(cells)
        if (idx.ndim != 1 or idx.dtype.kind not in "iu"
                or (idx.size and (idx.min() < 0 or idx.max() >= self.n_devices))
                or np.unique(idx).size != idx.size):  # fmt: skip
            raise InvalidParameterError(
                f"The 'cells' parameter of {_OWNER}.program must be distinct device indices in "
                f"[0, {self.n_devices - 1}]. Got {_describe(cells)} instead."
            )
        return idx.astype(np.int64)

    # -- reads ---------------------------------------------------------------------------------------
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

    @property
    def failed(self) -> np.ndarray:
        """Worn-out devices."""
        return readonly(self.wear.failed)

    # -- persistence ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The complete state as a JSON-ready header and plain arrays (see :meth:`from_state`)."""
        meta = {
            "n_devices": self.n_devices,
            "seed": str(self._seed),
            "calls": self._calls,
            "params": dataclasses.asdict(self.params),
            "wear_out": wear_to_dict(self.wear.params),
        }
        return meta, {"g": self._g, **self.wear.to_arrays(), **self.counters.to_arrays()}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   where: str = "state") -> PulseResponseDevice:  # fmt: skip
        """Rebuild devices from :meth:`state`; they continue exactly where the original was."""
        try:
            params = PulseResponseParams(**meta["params"])
            self = cls(int(meta["n_devices"]), params, wear_out=wear_from_dict(meta["wear_out"]),
                       rng=0)  # fmt: skip
            self._seed = int(meta["seed"])
            self._calls = int(meta["calls"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"{where}: not a pulse-response state ({exc}).") from None
        copy_checked(where, arrays, "g", self._g)
        self.wear.load_arrays(arrays)
        self.counters.load_arrays(arrays)
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the complete state (npz + JSON header, no pickle); :meth:`load` resumes exactly."""
        meta, arrays = self.state()
        write_state(path, _STATE_FORMAT, _STATE_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PulseResponseDevice:
        """Load devices saved by :meth:`save`."""
        arrays, meta = read_state(path, _STATE_FORMAT, _STATE_VERSION)
        with reading(path):
            return cls.from_state(meta, arrays, where=str(path))


def _is_real_array(x: Any) -> bool:
    try:
        return np.asarray(x).dtype.kind in "iuf"
    except (TypeError, ValueError):
        return False


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return repr(x)
