"""Multi-level programming of 130 nm HfO2 1T1R cells (CEA-Leti), with relaxation and read noise."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import presets as _presets
from ._kernels import _growth, multilevel_program, multilevel_read, multilevel_reset, multilevel_set
from ._rng import derive_key, derive_keys
from ._state import copy_checked, read_state, reading, write_state
from ._validation import (
    InvalidParameterError,
    as_generator,
    check_choice,
    check_int,
    check_real,
    readonly,
)
from .endurance import EnduranceCounters, WearOut, wear_from_dict, wear_to_dict
from .params import MultiLevelParams, WearOutParams

__all__ = ["ALLOCATIONS", "CellPool", "MultiLevelRRAM", "ProgramResult", "allocate_levels"]

#: Level allocation schemes (Esmanhotto et al., IEDM 2020): equally spaced conductances, or
#: levels spaced so that the windows mu_i ± k sigma_i of neighbours touch.
ALLOCATIONS = ("linear", "statistics")

_OWNER = "MultiLevelRRAM"
_STATE_FORMAT = "crossbar-sim/multilevel-state"
_STATE_VERSION = 1
#: Random streams (11 was the verify reads', which now share the SET's draws: one pair per iteration).
_STREAM_SET, _STREAM_RELAX, _STREAM_READ = 10, 12, 13
_DEFAULT_WEAR = WearOutParams()


def level_sigma_s(g: np.ndarray | float, params: MultiLevelParams, t_s: float) -> np.ndarray:
    """Model spread of a level read at conductance ``g``, ``t_s`` seconds after program-and-verify.

    ``sqrt(tol**2 / 3 + sigma_rel(g, t)**2 + (read_noise_rel * g)**2)``: verified cells spread
    about uniformly over the acceptance window, then relax, then the read adds its noise. Used by
    the statistics-based allocation.
    """
    g = np.asarray(g, dtype=np.float64)
    growth = max(0.0, 1.0 + params.relax_log_growth * math.log10(t_s / params.relax_reference_s))
    relax = params.sigma_relax_s * np.sqrt(params.g_max_s / g) * growth
    read = params.read_noise_rel * g
    return np.sqrt(params.verify_tolerance_s**2 / 3.0 + relax**2 + read**2)


def allocate_levels(
    levels: int,
    params: MultiLevelParams | None = None,
    allocation: str = "linear",
    t_s: float | None = None,
) -> np.ndarray:
    """Target conductances (S) of ``levels`` levels in ``[params.g_min_s, params.g_max_s]``.

    ``"linear"``: equally spaced. ``"statistics"``: the first and last level at the window's
    ends and neighbours spaced ``k * (sigma_i + sigma_{i+1})`` with ``sigma`` from
    :func:`level_sigma_s` at ``t_s`` (default: the relaxation reference time) and the common
    ``k`` chosen to fill the window — wider gaps where the spread is larger (low conductance).
    """
    params = params or _presets.CEA_LETI_130NM
    levels = check_int("levels", levels, "allocate_levels", 2, 1024)
    allocation = check_choice("allocation", allocation, ALLOCATIONS, "allocate_levels")
    lo, hi = params.g_min_s, params.g_max_s
    if allocation == "linear":
        return np.linspace(lo, hi, levels)
    t_s = (
        params.relax_reference_s
        if t_s is None
        else check_real("t_s", t_s, "allocate_levels", 0.0, low_open=True)
    )

    def sigma(g: float) -> float:
        return float(level_sigma_s(g, params, t_s))

    def ladder(k: float) -> list[float]:
        out = [lo]
        for _ in range(levels - 1):
            g0 = out[-1]
            a, b = g0, g0 + 2 * k * sigma(g0) + (hi - lo)
            for _ in range(100):  # solve g - g0 = k (sigma(g0) + sigma(g)); monotone in g
                m = 0.5 * (a + b)
                if m - g0 - k * (sigma(g0) + sigma(m)) < 0:
                    a = m
                else:
                    b = m
            out.append(0.5 * (a + b))
        return out

    k_lo, k_hi = 0.0, (hi - lo) / (2 * sigma(hi))
    for _ in range(100):
        k = 0.5 * (k_lo + k_hi)
        if ladder(k)[-1] < hi:
            k_lo = k
        else:
            k_hi = k
    g = np.array(ladder(0.5 * (k_lo + k_hi)))
    g[-1] = hi
    return g


@dataclass(frozen=True)
class ProgramResult:
    """Outcome of one program-and-verify call.

    Attributes
    ----------
    cells : ndarray of int64
        The programmed cells.
    levels : ndarray of int64
        Their target levels.
    iterations : ndarray of int32
        RESET + SET + verify iterations each cell took.
    converged : ndarray of bool
        Whether the last verify read was inside the window; cells that did not converge keep
        their last conductance and are reported here, never silently accepted.
    """

    cells: np.ndarray
    levels: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray

    @property
    def n_not_converged(self) -> int:
        """Cells whose programming failed after ``max_iterations``."""
        return int((~self.converged).sum())

    @property
    def mean_iterations(self) -> float:
        """Mean iterations per programmed cell."""
        return float(self.iterations.mean()) if self.iterations.size else 0.0

    def __repr__(self) -> str:
        return (
            f"ProgramResult(cells={self.cells.size}, mean_iterations={self.mean_iterations:.3f}, "
            f"max_iterations={int(self.iterations.max()) if self.iterations.size else 0}, "
            f"not_converged={self.n_not_converged})"
        )


class MultiLevelRRAM:
    """1T1R HfO2 cells storing one of K conductance levels, written by program-and-verify.

    Program-and-verify (Bonnet et al., Nat. Commun. 14:7530, 2023, Methods, "Algorithm 1"):
    RESET, then up to ``max_iterations`` times: SET at the compliance current of the target,
    verify read; accept when the read is within ``± verify_tolerance_s`` of the target, else RESET
    and retry with the same conditions. Every SET, RESET and verify read is counted per cell.
    After programming the conductance relaxes (spread growing with log time, larger at low
    conductance), evaluated at read time; every read adds read noise.

    Parameters
    ----------
    n_cells : int
        Number of cells.
    levels : int, default 8
        Number of conductance levels K (>= 2).
    params : MultiLevelParams or str, default ``presets.CEA_LETI_130NM``
        Device parameters or a preset name.
    allocation : {"linear", "statistics"}, default "linear"
        Level allocation (see :func:`allocate_levels`).
    level_conductances_s : array, optional
        Explicit level targets (S), strictly increasing, inside ``[g_min_s, g_max_s]``; overrides
        ``levels`` and ``allocation``.
    wear_out : WearOutParams or None, default ``WearOutParams()``
        Endurance limits (median 1e6 writes); ``None`` disables wear-out.
    rng : int, numpy.random.Generator or None
        Seed or generator; draws the D2D factors, fabrication faults, endurance limits and the key
        of the counter-based noise, so results do not depend on the thread count.

    Attributes
    ----------
    counters : EnduranceCounters
        Per-cell ``"set"``, ``"reset"`` (pulses), ``"verify_read"`` and ``"read"`` counts.
    """

    def __init__(
        self,
        n_cells: int,
        levels: int = 8,
        params: MultiLevelParams | str | None = None,
        allocation: str = "linear",
        level_conductances_s: Any = None,
        wear_out: WearOutParams | None = _DEFAULT_WEAR,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.n_cells = check_int("n_cells", n_cells, _OWNER, 1, 2**40)
        params = _presets.resolve(params, MultiLevelParams, _OWNER, _presets.CEA_LETI_130NM)
        _presets.check_wear_out(wear_out, _OWNER)
        self.params = params
        self.allocation = check_choice("allocation", allocation, ALLOCATIONS, _OWNER)
        if level_conductances_s is None:
            self._levels = allocate_levels(levels, params, self.allocation)
        else:
            self._levels = self._check_levels(level_conductances_s)
        gen = as_generator(rng, _OWNER)
        self._seed = int(gen.integers(0, 2**63, dtype=np.int64))
        n = self.n_cells
        self._d2d = 1.0 + params.d2d_window_rel * gen.standard_normal(n)
        faulty = gen.random(n) < params.stuck_fraction
        low = gen.random(n) < params.stuck_low_probability
        self._stuck = np.where(faulty, np.where(low, 1, 2), 0).astype(np.uint8)
        self.faulty = faulty  # fabrication faults (stuck-at), fixed
        self.wear = WearOut(n, wear_out, gen)
        self._g = np.full(n, params.g_hrs_s)
        self._relaxes = np.zeros(n, dtype=np.uint8)  # 1 after a SET: the cell relaxes
        self._target = np.full(n, -1, dtype=np.int64)
        self.counters = EnduranceCounters(
            n, ("set", "reset", "verify_read", "read"), non_pulse_kinds=("verify_read", "read")
        )
        self._calls = 0
        # the controller sets, per level, the compliance current whose nominal mean is the target
        self._level_means = self.mean_set_conductance(self.compliance_current_for(self._levels))
        spacing = np.diff(self._levels)
        even = np.allclose(spacing, spacing[0], rtol=1e-12, atol=0)
        self._even_step = float(spacing[0]) if even else 0.0  # 0: uneven levels

    # -- levels ------------------------------------------------------------------------------------
    def _check_levels(self, values: Any) -> np.ndarray:
        g = np.asarray(values, dtype=np.float64)
        p = self.params
        if (
            g.ndim != 1
            or g.size < 2
            or not np.all(np.isfinite(g))
            or np.any(np.diff(g) <= 0)
            or g[0] < p.g_min_s
            or g[-1] > p.g_max_s
        ):
            raise InvalidParameterError(
                f"The 'level_conductances_s' parameter of {_OWNER} must be at least 2 strictly "
                f"increasing conductances inside the window [{p.g_min_s!r}, {p.g_max_s!r}] S. "
                f"Got {values!r} instead."
            )
        return g

    @property
    def level_conductances(self) -> np.ndarray:
        """Target conductance of each level (S), increasing."""
        return readonly(self._levels)

    @property
    def even_level_step(self) -> float:
        """Spacing of evenly spaced levels (S); 0.0 when the levels are not evenly spaced."""
        return self._even_step

    @property
    def levels(self) -> int:
        """Number of levels K."""
        return int(self._levels.size)

    @property
    def target_levels(self) -> np.ndarray:
        """Level each cell was last programmed to (-1: never programmed)."""
        return readonly(self._target)

    def nearest_level(self, g: np.ndarray) -> np.ndarray:
        """Index of the level nearest to each conductance ``g`` (S)."""
        g = np.asarray(g, dtype=np.float64)
        levels = self._levels
        if self._even_step:  # evenly spaced: arithmetic
            k = np.rint((g - levels[0]) * (1.0 / self._even_step))
            return np.clip(k, 0, levels.size - 1).astype(np.int64)
        return np.searchsorted(0.5 * (levels[1:] + levels[:-1]), g)

    # -- counters and faults -----------------------------------------------------------------------
    @property
    def set_count(self) -> np.ndarray:
        """SET pulses per cell."""
        return self.counters["set"]

    @property
    def reset_count(self) -> np.ndarray:
        """RESET pulses per cell."""
        return self.counters["reset"]

    @property
    def verify_count(self) -> np.ndarray:
        """Verify reads per cell."""
        return self.counters["verify_read"]

    @property
    def pulse_count(self) -> np.ndarray:
        """Programming pulses (SET + RESET) per cell: the writes that wear a cell out."""
        return self.counters.pulse_count

    @property
    def failed(self) -> np.ndarray:
        """Worn-out cells (past their endurance limit), read-only."""
        return readonly(self.wear.failed)

    @property
    def stuck(self) -> np.ndarray:
        """Stuck state per cell: 0 none, 1 stuck at HRS (low G), 2 stuck at LRS (high G)."""
        return readonly(self._stuck)

    # -- operations --------------------------------------------------------------------------------
    def program(self, levels: Any, cells: Any = None) -> ProgramResult:
        """Program-and-verify cells to target levels.

        Parameters
        ----------
        levels : int array
            Target level index per cell (shape ``(n_cells,)``, or ``(len(cells),)`` with
            ``cells``), each in ``[0, K - 1]``.
        cells : int array, optional
            Indices of the cells to program (distinct); all cells if omitted.

        Returns
        -------
        ProgramResult
            Iterations and convergence of every programmed cell.
        """
        idx = self._check_cells(cells)
        lv = self._check_level_indices(levels, idx.shape, "program")
        return self._program(_EMPTY_I64 if cells is None else idx, idx, lv)

    def program_changed(self, levels: Any) -> ProgramResult:
        """Write-on-change: program-and-verify only the cells whose target level differs from
        ``levels`` (one index per cell, shape ``(n_cells,)``); the others are not touched.

        Returns
        -------
        ProgramResult
            The programmed cells (``cells``), their levels, iterations and convergence.
        """
        lv = self._check_level_indices(levels, (self.n_cells,), "program_changed")
        idx = np.flatnonzero(lv != self._target)
        return self._program(idx, idx, lv[idx])

    def _check_level_indices(self, levels: Any, shape: tuple[int, ...], method: str) -> np.ndarray:
        lv = np.asarray(levels)
        if lv.dtype.kind not in "iu" or lv.shape != shape:
            raise InvalidParameterError(
                f"The 'levels' parameter of {_OWNER}.{method} must be an integer array of shape "
                f"{shape}. Got {_describe(levels)} instead."
            )
        if lv.size and (lv.min() < 0 or lv.max() >= self.levels):
            bad = int(np.argmax((lv < 0) | (lv >= self.levels)))
            raise InvalidParameterError(
                f"The 'levels' parameter of {_OWNER}.{method} must hold level indices in "
                f"[0, {self.levels - 1}]. Got {lv[bad].item()} at position {bad} instead."
            )
        return np.ascontiguousarray(lv, dtype=np.int64)

    def _program(self, cells: np.ndarray, idx: np.ndarray, lv: np.ndarray) -> ProgramResult:
        """The kernel call: ``cells`` as the kernel takes them (empty: all), ``idx`` explicit."""
        iterations = np.empty(idx.size, dtype=np.int32)
        converged = np.empty(idx.size, dtype=np.bool_)
        state = kernel_state(self, self._state_arrays(), _ONE_POPULATION,
                             _keys(self._key(_STREAM_SET)), None, _NO_KEYS)  # fmt: skip
        multilevel_program(cells, lv, iterations, converged, _EMPTY_I64, state)
        self._calls += 1
        return ProgramResult(idx, lv, iterations, converged)

    def set(
        self,
        icc_ua: float | None = None,
        wl_voltage_v: float | None = None,
        cells: Any = None,
    ) -> None:
        """One SET pulse with a compliance current, given directly or by the word-line voltage."""
        if (icc_ua is None) == (wl_voltage_v is None):
            raise InvalidParameterError(
                f"{_OWNER}.set needs exactly one of 'icc_ua' and 'wl_voltage_v'. "
                f"Got icc_ua={icc_ua!r}, wl_voltage_v={wl_voltage_v!r} instead."
            )
        if icc_ua is None:
            icc_ua = float(self.compliance_current_ua(wl_voltage_v))
        icc = check_real("icc_ua", icc_ua, f"{_OWNER}.set", 0.0, low_open=True)
        idx = self._check_cells(cells)
        means = float(self.mean_set_conductance(icc)) * self._d2d[idx]
        p = self.params
        multilevel_set(
            idx, means, self._g, self._relaxes, self._stuck, self.wear.failed,
            self.wear.stuck_lrs_on_failure, self.wear.limit,
            self.counters.array("set"), self.counters.array("reset"),
            self._key(_STREAM_SET), p.sigma_prog_s, p.g_max_s, p.prog_low_fraction * p.g_min_s,
            p.prog_high_fraction * p.g_max_s, p.g_stuck_low_s, p.g_stuck_high_s,
        )  # fmt: skip
        self._calls += 1
        self._target[idx] = -1

    def reset(self, cells: Any = None) -> None:
        """One RESET pulse: back to the HRS conductance ``params.g_hrs_s``."""
        idx = self._check_cells(cells)
        p = self.params
        multilevel_reset(
            idx, self._g, self._relaxes, self._stuck, self.wear.failed,
            self.wear.stuck_lrs_on_failure,
            self.wear.limit, self.counters.array("set"), self.counters.array("reset"),
            p.g_hrs_s, p.g_stuck_low_s, p.g_stuck_high_s,
        )  # fmt: skip
        self._target[idx] = -1

    def read(self, t: float | np.ndarray = 60.0) -> np.ndarray:
        """Read every cell ``t`` seconds after its programming (relaxation + read noise), in S.

        Parameters
        ----------
        t : float or array of shape (n_cells,)
            Time since programming (s, >= 0); ``t = 0`` reads the as-programmed conductance.
        """
        t_scalar, t_arr = self._check_time(t)
        out = np.empty(self.n_cells)
        p = self.params
        multilevel_read(
            out, t_scalar, t_arr, self._g, self._relaxes, self._stuck,
            self.counters.array("set"), self.counters.array("read"),
            _keys(self._key(_STREAM_READ)), _keys(self._relax_key()), p.sigma_relax_s, p.g_max_s,
            p.relax_reference_s, p.relax_log_growth, p.read_noise_rel, p.g_stuck_low_s,
            p.g_stuck_high_s, _EMPTY_I64, True, _EMPTY_I64, _ONE_POPULATION,
        )  # fmt: skip
        self._calls += 1
        return out

    def conductance(
        self, t: float | np.ndarray = 60.0, cells: Any = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Conductance of every cell ``t`` seconds after programming, without read noise (S).

        The state a read samples from (relaxation applied, stuck cells at their stuck value); it is
        not counted as a read. Array engines that draw read noise themselves use it. With
        ``cells`` (indices) only those entries of ``out`` are (re)computed, e.g. after
        reprogramming a few cells.
        """
        t_scalar, t_arr = self._check_time(t)
        idx = _EMPTY_I64 if cells is None else self._check_cells(cells)
        if out is None:
            out = np.empty(self.n_cells)
        elif out.shape != (self.n_cells,) or out.dtype != np.float64:
            raise InvalidParameterError(
                f"The 'out' parameter of {_OWNER}.conductance must be float64 of shape "
                f"({self.n_cells},). Got {_describe(out)} instead."
            )
        p = self.params
        multilevel_read(
            out, t_scalar, t_arr, self._g, self._relaxes, self._stuck,
            self.counters.array("set"), _EMPTY_I64,  # not a read: nothing counted
            _keys(self._key(_STREAM_READ)), _keys(self._relax_key()), p.sigma_relax_s,
            p.g_max_s, p.relax_reference_s, p.relax_log_growth, 0.0, p.g_stuck_low_s,
            p.g_stuck_high_s, idx, False, _EMPTY_I64, _ONE_POPULATION,
        )  # fmt: skip
        return out

    def bit_error_rate(self, t: float = 60.0) -> float:
        """Fraction of programmed cells read nearer another level than their target ``t`` s after
        programming (the acceptance criterion of the CEA-Leti multi-level work: < 1e-3)."""
        g = self.read(t)
        programmed = self._target >= 0
        if not programmed.any():
            raise InvalidParameterError(f"{_OWNER}.bit_error_rate: no cell has been programmed.")
        return float((self.nearest_level(g[programmed]) != self._target[programmed]).mean())

    # -- maps --------------------------------------------------------------------------------------
    def compliance_current_ua(self, wl_voltage_v: Any) -> np.ndarray:
        """Compliance current (uA) set by a word-line voltage (V), linear between the map points."""
        v = np.asarray(wl_voltage_v, dtype=np.float64)
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise InvalidParameterError(
                f"The 'wl_voltage_v' parameter of {_OWNER} must be finite and >= 0. "
                f"Got {wl_voltage_v!r} instead."
            )
        p = self.params
        return _interp(v, p.wl_points_v, p.icc_for_wl_points_ua)

    def mean_set_conductance(self, icc_ua: Any) -> np.ndarray:
        """Mean conductance (S) after a SET at compliance current ``icc_ua`` (nominal device)."""
        return _interp(
            np.asarray(icc_ua, dtype=np.float64), self.params.icc_points_ua, self.params.g_points_s
        )

    def compliance_current_for(self, g_s: Any) -> np.ndarray:
        """Compliance current (uA) whose mean SET conductance is ``g_s`` (inverse map)."""
        return _interp(
            np.asarray(g_s, dtype=np.float64), self.params.g_points_s, self.params.icc_points_ua
        )

    # -- helpers -----------------------------------------------------------------------------------
    def _key(self, stream: int) -> np.uint64:
        return derive_key(self._seed, stream, self._calls)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The per-cell arrays programming reads and writes, by name (a pool's buffer names)."""
        arrays = {name: getattr(self, name) for name in CellPool._FIELDS}
        arrays.update({name: getattr(self.wear, name) for name in CellPool._WEAR})
        arrays.update({kind: self.counters.array(kind) for kind in CellPool._COUNTS})
        return arrays

    def _relax_key(self) -> np.uint64:
        """Key of the relaxation draws: one per cell and programming (its SET count), not per
        call, so that every read of a programmed state sees the same relaxed conductance."""
        return derive_key(self._seed, _STREAM_RELAX, 0)

    def _check_cells(self, cells: Any) -> np.ndarray:
        if cells is None:
            return np.arange(self.n_cells, dtype=np.int64)
        arr = np.asarray(cells)
        where = f"The 'cells' parameter of {_OWNER}"
        if arr.dtype == np.bool_ and arr.shape == (self.n_cells,):
            return np.flatnonzero(arr).astype(np.int64)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise InvalidParameterError(
                f"{where} must be a 1-D integer array of cell indices or a bool mask of shape "
                f"({self.n_cells},). Got {_describe(cells)} instead."
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_cells):
            raise InvalidParameterError(
                f"{where} must hold indices in [0, {self.n_cells - 1}]. "
                f"Got values in [{arr.min()}, {arr.max()}] instead."
            )
        if arr.size > 1 and not np.all(arr[1:] > arr[:-1]) and np.unique(arr).size != arr.size:
            raise InvalidParameterError(f"{where} must not repeat a cell.")
        return arr.astype(np.int64)

    def _check_time(self, t: Any) -> tuple[float, np.ndarray]:
        where = f"The 't' parameter of {_OWNER}.read"
        if np.ndim(t) == 0:
            value = check_real("t", t, f"{_OWNER}.read", 0.0)
            return value, np.empty(0)
        arr = np.asarray(t, dtype=np.float64)
        if arr.shape != (self.n_cells,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InvalidParameterError(
                f"{where} must be a time >= 0 (s) or an array of shape ({self.n_cells},) of such "
                f"times. Got {_describe(t)} instead."
            )
        return 0.0, np.ascontiguousarray(arr)

    # -- persistence -------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The complete state as a JSON-ready header and plain arrays (see :meth:`from_state`)."""
        meta = {
            "n_cells": self.n_cells,
            "allocation": self.allocation,
            "seed": str(self._seed),
            "calls": self._calls,
            "params": _params_to_dict(self.params),
            "wear_out": wear_to_dict(self.wear.params),
        }
        arrays = {
            "levels": self._levels, "d2d": self._d2d, "stuck": self._stuck, "faulty": self.faulty,
            "g": self._g, "relaxes": self._relaxes, "target": self._target,
            **self.wear.to_arrays(), **self.counters.to_arrays(),
        }  # fmt: skip
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   where: str = "state") -> MultiLevelRRAM:  # fmt: skip
        """Rebuild cells from :meth:`state`; they continue exactly where the original was."""
        self = cls(
            int(meta["n_cells"]),
            params=MultiLevelParams(**_params_from_dict(meta["params"])),
            level_conductances_s=arrays.get("levels"),
            wear_out=wear_from_dict(meta["wear_out"]),
            allocation=meta["allocation"],
            rng=0,
        )
        self._seed = int(meta["seed"])
        self._calls = int(meta["calls"])
        for key, target in (("d2d", self._d2d), ("stuck", self._stuck), ("faulty", self.faulty),
                            ("g", self._g), ("relaxes", self._relaxes),
                            ("target", self._target)):  # fmt: skip
            copy_checked(where, arrays, key, target, finite=key in ("d2d", "g"),
                         low=0.0 if key == "g" else None)  # fmt: skip
        self.wear.load_arrays(arrays)
        self.counters.load_arrays(arrays)
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the complete state (npz + JSON header, no pickle); :meth:`load` resumes exactly."""
        meta, arrays = self.state()
        write_state(path, _STATE_FORMAT, _STATE_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MultiLevelRRAM:
        """Load cells saved by :meth:`save`."""
        arrays, meta = read_state(path, _STATE_FORMAT, _STATE_VERSION)
        with reading(path):
            return cls.from_state(meta, arrays, where=str(path))


class CellPool:
    """Multi-level populations stored back to back and programmed and read by one kernel call.

    Array engines hold many small populations (one per crossbar array); a call per population
    costs Python work that dwarfs the kernels when each writes only a few cells. A pool moves
    the populations' per-cell arrays into shared buffers and leaves each population with views
    of its part, so the populations stay complete objects (their methods, counters and saved
    states are unchanged) while :meth:`program` and :meth:`conductance` serve all of them at
    once. Each population keeps its own seed, call counter and cell numbering: a pooled call
    draws exactly the numbers the populations' own calls would (tested bit for bit).

    Parameters
    ----------
    populations : sequence of MultiLevelRRAM
        Populations with the same parameters and level conductances.
    """

    _FIELDS = ("_d2d", "_stuck", "_g", "_relaxes", "_target")
    _WEAR = ("limit", "stuck_lrs_on_failure", "failed")
    _COUNTS = ("set", "reset", "verify_read", "read")

    def __init__(self, populations: Sequence[MultiLevelRRAM]) -> None:
        pops = tuple(populations)
        if not pops or not all(isinstance(p, MultiLevelRRAM) for p in pops):
            raise InvalidParameterError(
                "The 'populations' parameter of CellPool must be a non-empty sequence of "
                "MultiLevelRRAM."
            )
        first = pops[0]
        for k, pop in enumerate(pops):
            if pop.params != first.params or not np.array_equal(pop._levels, first._levels):
                raise InvalidParameterError(
                    f"The 'populations' parameter of CellPool must share parameters and levels; "
                    f"population {k} differs from population 0."
                )
        self.populations = pops
        self.offsets = np.concatenate([[0], np.cumsum([p.n_cells for p in pops])]).astype(np.int64)
        self.seeds = np.array([p._seed for p in pops], dtype=np.uint64)
        # one relaxation draw per programming: the keys do not depend on the call
        self._relax = derive_keys(self.seeds, _STREAM_RELAX, np.zeros(len(pops), dtype=np.int64))
        parts = [pop._state_arrays() for pop in pops]
        self.buffers = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
        for k, pop in enumerate(pops):
            views = {name: buf[self.offsets[k] : self.offsets[k + 1]]
                     for name, buf in self.buffers.items()}  # fmt: skip
            for name in self._FIELDS:
                setattr(pop, name, views[name])
            for name in self._WEAR:
                setattr(pop.wear, name, views[name])
            for kind in self._COUNTS:
                pop.counters._counts[kind] = views[kind]

    @property
    def n_cells(self) -> int:
        """Cells of all populations together."""
        return int(self.offsets[-1])

    def holds(self, populations: Sequence[MultiLevelRRAM]) -> bool:
        """Whether ``populations`` are exactly this pool's (the same objects, in order)."""
        return len(populations) == len(self.populations) and all(
            a is b for a, b in zip(populations, self.populations, strict=True)
        )

    def _keys(self, stream: int) -> np.ndarray:
        calls = np.array([p._calls for p in self.populations], dtype=np.int64)
        return derive_keys(self.seeds, stream, calls)

    def program(self, cells: np.ndarray, levels: np.ndarray, pops: np.ndarray,
                refresh: tuple[float, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Program-and-verify pooled cells ``cells`` (indices into the buffers, distinct, int64)
        of populations ``pops`` to ``levels``; every population counts one programming call, as
        a call of its own ``program_changed`` would (even one that changes no cell).

        ``refresh = (t, out)``: also write each programmed cell's :meth:`conductance` at time
        ``t`` into ``out`` (float64, one entry per pooled cell), in the same pass.

        Returns the iterations (int32) and convergence of every programmed cell.
        """
        iterations = np.empty(cells.size, dtype=np.int32)
        converged = np.empty(cells.size, dtype=np.bool_)
        multilevel_program(cells, levels, iterations, converged, pops, self.program_state(refresh))
        return iterations, converged

    def program_state(self, refresh: tuple[float, np.ndarray] | None = None) -> tuple[Any, ...]:
        """The pool's arrays, this programming call's keys and the parameters, as the tuple that
        :func:`devices._kernels.multilevel_program` and ``program_segment`` take (for engines
        that program the pool from their own kernels); ``refresh`` as in :meth:`program`. Every
        population counts one programming call, as with :meth:`program`."""
        state = kernel_state(self.populations[0], self.buffers, self.offsets,
                             self._keys(_STREAM_SET), refresh, self._relax)  # fmt: skip
        for pop in self.populations:
            pop._calls += 1
        return state

    def conductance(self, t: float, cells: np.ndarray, pops: np.ndarray, out: np.ndarray) -> None:
        """:meth:`MultiLevelRRAM.conductance` at time ``t`` of pooled ``cells`` (of populations
        ``pops``) into ``out`` (float64, one entry per pooled cell)."""
        b = self.buffers
        p = self.populations[0].params
        relax = self._relax
        multilevel_read(
            out, float(t), np.empty(0), b["_g"], b["_relaxes"], b["_stuck"], b["set"],
            _EMPTY_I64, relax, relax, p.sigma_relax_s, p.g_max_s, p.relax_reference_s,
            p.relax_log_growth, 0.0, p.g_stuck_low_s, p.g_stuck_high_s, cells, False, pops,
            self.offsets,
        )  # fmt: skip


def kernel_state(
    first: MultiLevelRRAM, arrays: dict[str, np.ndarray], offsets: np.ndarray,
    keys_set: np.ndarray, refresh: tuple[float, np.ndarray] | None, keys_relax: np.ndarray,
) -> tuple[Any, ...]:  # fmt: skip
    """The tuple :func:`devices._kernels.multilevel_program` takes: the levels and parameters of
    ``first``, the per-cell ``arrays`` (named as :meth:`MultiLevelRRAM._state_arrays` names
    them), the populations' ``offsets`` and keys; ``refresh = (t, out)`` or None (no refresh of
    the conductances)."""
    p = first.params
    growth = 0.0 if refresh is None else _growth(refresh[0], p.relax_reference_s,
                                                 p.relax_log_growth)  # fmt: skip
    a = arrays
    return (
        first._levels, first._level_means, a["_d2d"], a["_target"], a["_g"], a["_relaxes"],
        a["_stuck"], a["failed"], a["stuck_lrs_on_failure"], a["limit"], a["set"], a["reset"],
        a["verify_read"], offsets, keys_set, p.sigma_prog_s, p.g_max_s,
        p.prog_low_fraction * p.g_min_s, p.prog_high_fraction * p.g_max_s, p.verify_tolerance_s,
        p.read_noise_rel, p.max_iterations, p.g_stuck_low_s, p.g_stuck_high_s,
        _NO_REFRESH if refresh is None else refresh[1], growth, keys_relax, p.sigma_relax_s,
    )  # fmt: skip


_EMPTY_I64 = np.empty(0, dtype=np.int64)
_ONE_POPULATION = np.zeros(1, dtype=np.int64)  # the kernels' population offsets: one, at 0
_NO_REFRESH = np.empty(0)
_NO_KEYS = np.zeros(1, dtype=np.uint64)  # keys of a stream that is not drawn (placeholder)


def _keys(key: np.uint64) -> np.ndarray:
    """One population's key as the kernels take keys (one per population)."""
    return np.array([key], dtype=np.uint64)


def _interp(x: np.ndarray, xp: tuple[float, ...], fp: tuple[float, ...]) -> np.ndarray:
    """Piecewise-linear map through (xp, fp), extended linearly beyond the end points."""
    xp_a, fp_a = np.asarray(xp), np.asarray(fp)
    y = np.interp(x, xp_a, fp_a)
    lo_slope = (fp_a[1] - fp_a[0]) / (xp_a[1] - xp_a[0])
    hi_slope = (fp_a[-1] - fp_a[-2]) / (xp_a[-1] - xp_a[-2])
    y = np.where(x < xp_a[0], fp_a[0] + (x - xp_a[0]) * lo_slope, y)
    return np.where(x > xp_a[-1], fp_a[-1] + (x - xp_a[-1]) * hi_slope, y)


def _params_to_dict(params: Any) -> dict[str, Any]:
    out = dataclasses.asdict(params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _params_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return repr(x)
