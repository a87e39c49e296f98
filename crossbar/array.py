"""Crossbar arrays of 1T1R cells, and weight matrices tiled over them.

A weight matrix ``W`` (out x in) is stored transposed: inputs drive the word lines (rows),
outputs are read on the bit lines (columns). A matrix-vector product is a physical read:

1. input DAC: ``v = V_read * Q_dac(x / s)`` with ``s`` the input scale;
2. every row tile r gives column currents ``I = v_r @ G_r`` (optionally through the IR-drop
   solver), with read noise of the devices added at every read;
3. a column ADC per tile quantizes each current: ``Q_adc(I) = step * clip(round(I / step))``;
4. the digitized partial sums of the row tiles are added digitally and scaled back to weight
   units: ``y = sum_r Q_adc(I_r) * s / (V_read * g_scale)``.

Read noise is exact in distribution but drawn on the outputs: with independent relative noise
``sigma`` on every cell read, ``sum_i v_i G_ij (1 + sigma eps_ij)`` is normal with mean
``v @ G`` and variance ``sigma^2 (v^2 @ G^2)``, so one normal per column current replaces one per
cell (CrossSim copies the whole conductance matrix per input vector instead).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, cast

import numpy as np

from devices import (
    CellPool,
    InvalidParameterError,
    MultiLevelRRAM,
    ProgramResult,
    PulseProgramResult,
    PulseResponseDevice,
)
from devices.support import as_generator, check_int, check_real, derive_key

from . import ir_drop
from ._energy import MVMStats, ReadEnergy
from ._map_kernels import pair_terms
from ._mvm_kernels import (
    adc_steps,
    dac_tiles,
    fixed_point_terms,
    input_scale,
    read_out,
    read_out32,
    read_out32_tile,
    squares_over_batch,
)
from ._write_kernels import (
    NEGATIVE,
    POSITIVE,
    WITH_REFERENCE,
    weight_levels,
    write_ideal,
    write_on_change,
    write_pairs_on_change,
)
from .config import CrossbarConfig

__all__ = ["CrossbarArray", "MVMStats", "TiledMatrix"]

_STREAM_NOISE = 30


class CrossbarArray:
    """``rows x cols`` 1T1R cells of a multi-level or pulse-response device (or ideal
    conductances).

    Parameters
    ----------
    rows, cols : int
        Word lines and bit lines (default 128 x 128).
    config : CrossbarConfig, optional
        Devices, levels, noise and wires (``CrossbarConfig()`` by default).
    rng : int, numpy.random.Generator or None
        Seed or generator of the devices.

    Notes
    -----
    Programming goes through the device model (program-and-verify of multi-level cells,
    closed-loop pulse programming of pulse-response devices), so every SET, RESET, pulse and
    verify read is counted per cell in ``cells.counters``. Reads are counted per array in
    :attr:`read_count` (every read of an array reads all its cells once).
    """

    def __init__(self, rows: int = 128, cols: int = 128, config: CrossbarConfig | None = None,
                 rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        self.rows = check_int("rows", rows, "CrossbarArray", 1, 1 << 16)
        self.cols = check_int("cols", cols, "CrossbarArray", 1, 1 << 16)
        self.config = config if config is not None else CrossbarConfig()
        if not isinstance(self.config, CrossbarConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of CrossbarArray must be a CrossbarConfig. "
                f"Got {type(self.config).__name__} instead."
            )
        c = self.config
        gen = as_generator(rng, "CrossbarArray")
        self.cells: MultiLevelRRAM | PulseResponseDevice | None = None
        n = self.rows * self.cols
        self._pulse_levels = np.empty(0)
        self._pulse_target = np.full(n, np.nan)  # last programmed target of each pulse device
        if c.pulse_devices:
            lo, hi = c.g_window_s
            self.cells = PulseResponseDevice(n, c.device, g_init_s=lo, wear_out=c.wear_out,
                                             rng=gen)  # fmt: skip
            if c.levels is not None:
                self._pulse_levels = np.linspace(lo, hi, c.levels)
        elif c.levels is not None:
            self.cells = MultiLevelRRAM(
                self.rows * self.cols, levels=c.levels, params=c.device, allocation=c.allocation,
                wear_out=c.wear_out, rng=gen,
            )  # fmt: skip
        self._ideal = np.full((self.rows, self.cols), c.device.g_min_s)
        self._noise_seed = int(gen.integers(0, 2**63, dtype=np.int64))
        self._cache: dict[float, np.ndarray] = {}
        self._transfer: dict[float, np.ndarray] = {}  # IR-drop transfer matrix per read time
        self.read_count = 0
        self._reads = 0

    @property
    def level_conductances(self) -> np.ndarray:
        """Target conductances of the device levels (S); empty for ideal or analog devices."""
        if isinstance(self.cells, MultiLevelRRAM):
            return self.cells.level_conductances
        return self._pulse_levels

    def program_levels(self, levels: Any) -> ProgramResult | PulseProgramResult:
        """Program every cell to a level index (array of shape (rows, cols))."""
        if self.config.levels is None:
            raise InvalidParameterError(
                "CrossbarArray.program_levels needs devices with levels (config.levels is None); "
                "use program_conductances."
            )
        lv = np.asarray(levels)
        if lv.shape != (self.rows, self.cols):
            raise InvalidParameterError(
                f"The 'levels' parameter of CrossbarArray.program_levels must have shape "
                f"({self.rows}, {self.cols}). Got {lv.shape} instead."
            )
        if isinstance(self.cells, PulseResponseDevice):
            flat = lv.reshape(-1)
            if flat.dtype.kind not in "iu" or flat.min() < 0 or flat.max() >= self.config.levels:
                raise InvalidParameterError(
                    f"The 'levels' parameter of CrossbarArray.program_levels must hold level "
                    f"indices in [0, {self.config.levels - 1}]. Got {_extremes(flat)} instead."
                )
            return self._program_pulses(self._pulse_levels[flat], np.arange(flat.size))
        result = cast(MultiLevelRRAM, self.cells).program(lv.reshape(-1))
        self._cache.clear()
        self._transfer.clear()
        return result

    def _program_pulses(self, targets: np.ndarray, cells: np.ndarray) -> PulseProgramResult:
        result = cast(PulseResponseDevice, self.cells).program(targets, cells=cells)
        self._pulse_target[cells] = targets
        self._transfer.clear()
        return result

    def program_conductances(self, g: Any) -> PulseProgramResult | None:
        """Set ideal devices exactly to conductances ``g`` (S) inside the window, or program
        analog pulse-response devices to them by pulses (returns the programming result)."""
        if isinstance(self.cells, MultiLevelRRAM) or (self.cells is not None
                                                      and self.config.levels is not None):  # fmt: skip
            raise InvalidParameterError(
                "CrossbarArray.program_conductances is for ideal or analog devices "
                "(config.levels=None); devices with levels are written with program_levels."
            )
        arr = np.asarray(g, dtype=np.float64)
        p = self.config.device
        if arr.shape != (self.rows, self.cols) or not np.all(np.isfinite(arr)):
            raise InvalidParameterError(
                f"The 'g' parameter of CrossbarArray.program_conductances must be finite with "
                f"shape ({self.rows}, {self.cols}). Got shape {arr.shape} instead."
            )
        if arr.min() < p.g_min_s * (1 - 1e-12) or arr.max() > p.g_max_s * (1 + 1e-12):
            raise InvalidParameterError(
                f"The 'g' parameter of CrossbarArray.program_conductances must lie in the window "
                f"[{p.g_min_s!r}, {p.g_max_s!r}] S. Got [{arr.min()!r}, {arr.max()!r}] instead."
            )
        if self.cells is not None:  # targets pulses cannot reach are clipped to what they can
            lo, hi = self.config.g_window_s
            return self._program_pulses(np.clip(arr, lo, hi).reshape(-1), np.arange(arr.size))
        self._ideal[...] = arr
        self._cache.clear()
        self._transfer.clear()
        return None

    def pulse_targets(self, g: np.ndarray) -> np.ndarray:
        """Targets of pulse-response devices for wanted conductances ``g``: clipped to the
        window, and rounded to the nearest level when the devices have levels."""
        lo, hi = self.config.g_window_s
        g = np.clip(g, lo, hi)
        if self._pulse_levels.size == 0:
            return g
        step = (hi - lo) / (self._pulse_levels.size - 1)
        return self._pulse_levels[np.rint((g - lo) / step).astype(np.int64)]

    def conductance(self, t: float | None = None) -> np.ndarray:
        """Conductances (S, rows x cols) ``t`` s after programming, without read noise."""
        if self.cells is None:
            return self._ideal
        if isinstance(self.cells, PulseResponseDevice):  # no relaxation: a live read-only view
            return self.cells.conductance().reshape(self.rows, self.cols)
        t = self.config.read_time_s if t is None else check_real("t", t, "CrossbarArray", 0.0)
        if t not in self._cache:
            self._cache = {t: self.cells.conductance(t).reshape(self.rows, self.cols)}
        return self._cache[t]

    def _refresh(self, cells: np.ndarray) -> None:
        """After reprogramming ``cells``, recompute only their cached conductances."""
        self._transfer.clear()
        if not isinstance(self.cells, MultiLevelRRAM):
            return
        for t, g in self._cache.items():
            self.cells.conductance(t, cells=cells, out=g.reshape(-1))

    def transfer(self, t: float | None = None) -> np.ndarray:
        """The array's read map with wire resistance, ``currents = v @ transfer(t)`` (rows x
        cols; :func:`crossbar.ir_drop.transfer_matrix` of the conductances at ``t`` and the
        config's segment resistances), computed once per programmed state and read time."""
        c = self.config
        t = c.read_time_s if t is None else check_real("t", t, "CrossbarArray", 0.0)
        if t not in self._transfer:
            self._transfer = {
                t: ir_drop.transfer_matrix(self.conductance(t), c.r_wl_ohm, c.r_bl_ohm)
            }
        return self._transfer[t]

    def currents(self, v: Any, t: float | None = None) -> np.ndarray:
        """Read the bit-line currents (A) for word-line voltages ``v`` ((rows,) or (B, rows))."""
        vv = np.asarray(v, dtype=np.float64)
        single = vv.ndim == 1
        vv = np.atleast_2d(vv)
        if vv.ndim != 2 or vv.shape[1] != self.rows or not np.all(np.isfinite(vv)):
            raise InvalidParameterError(
                f"The 'v' parameter of CrossbarArray.currents must be finite with shape "
                f"({self.rows},) or (B, {self.rows}). Got shape {np.shape(v)} instead."
            )
        g = self.conductance(t)
        c = self.config
        mean = vv @ (self.transfer(t) if c.ir_drop else g)
        sigma = c.read_noise_rel
        if sigma > 0:
            var = sigma**2 * ((vv**2) @ (g**2))
            key = derive_key(self._noise_seed, _STREAM_NOISE, self._reads)
            out = np.empty_like(mean)
            read_out(mean[None], var[None], np.empty((1, mean.shape[0], 0)),
                     np.empty((1, mean.shape[0], 0)), np.zeros(self.cols, dtype=np.int64),
                     np.zeros((1, self.cols)), 1, key, np.ones(mean.shape[0]), out)  # fmt: skip
            mean = out
        self._reads += 1
        self.read_count += vv.shape[0]
        return mean[0] if single else mean


class TiledMatrix:
    """A weight matrix (out x in) stored in crossbar tiles and multiplied by in-memory reads.

    Parameters
    ----------
    weight : array (out, in)
        Weights to store (finite).
    config : CrossbarConfig, optional
        Tiles, mapping, devices, converters and non-idealities.
    rng : int, numpy.random.Generator or None
        Seed or generator (devices and read noise).
    """

    def __init__(self, weight: Any, config: CrossbarConfig | None = None,
                 rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        self.config = config if config is not None else CrossbarConfig()
        if not isinstance(self.config, CrossbarConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of TiledMatrix must be a CrossbarConfig. "
                f"Got {type(self.config).__name__} instead."
            )
        w, _ = self._check_weight(weight)
        self.out_features, self.in_features = w.shape
        c = self.config
        gen = as_generator(rng, "TiledMatrix")
        self._noise_seed = int(gen.integers(0, 2**63, dtype=np.int64))
        self._calls = 0
        self._scratch = _Scratch()  # a read's scratch arrays, kept between calls
        self._level_work: tuple[np.ndarray, np.ndarray] | None = None
        # set by _layout (geometry of the tiles), program / load_state (the weight mapping), the
        # cell pool (_cell_pool: programming targets and views) and the reads (caches)
        self._geometry: Any = None
        self._offsets: Any = None
        self._ideal_g: Any = None
        self.weight_range: float = 0.0
        self.g_per_weight: float = 0.0
        self._changed: Any = None
        self._pool_g: Any = None
        self._pool_views: Any = None
        self._targets: Any = None
        self._pair_targets: Any = None
        self._blocks: Any = None
        per_tile = c.tile_cols if c.mapping == "differential" else c.tile_cols - 1
        self._row_starts = list(range(0, self.in_features, c.tile_rows))
        self._col_starts = list(range(0, self.out_features, per_tile))
        self._per_tile = per_tile
        self.tiles: list[list[tuple[CrossbarArray, ...]]] = []
        self._pool: CellPool | None = None  # the multi-level cells, programmed in one call
        for r0 in self._row_starts:
            rows = min(c.tile_rows, self.in_features - r0)
            row = []
            for c0 in self._col_starts:
                cols = min(per_tile, self.out_features - c0)
                if c.mapping == "differential":
                    row.append(
                        (CrossbarArray(rows, cols, c, gen), CrossbarArray(rows, cols, c, gen))
                    )
                else:
                    row.append((CrossbarArray(rows, cols + 1, c, gen),))
            self.tiles.append(row)
        self._layout()
        self._energy = ReadEnergy(self.in_features, self.out_features, len(self._row_starts),
                                  len(self._col_starts), per_tile, self._row_conductance)  # fmt: skip
        self._maps = _ReadMaps()
        self.program(w)

    def _layout(self) -> None:
        """Where every array sits (``_geometry``: first input row, first output, rows, outputs,
        side) and, for ideal devices, one buffer that the arrays' conductances view (written by
        one kernel call per programming)."""
        arrays = self.arrays
        reference = self.config.mapping == "reference"
        self._geometry = np.array(
            [(r0, c0, a.rows, a.cols - reference, WITH_REFERENCE if reference else side)
             for r0, row in zip(self._row_starts, self.tiles, strict=True)
             for c0, pair in zip(self._col_starts, row, strict=True)
             for side, a in zip((POSITIVE, NEGATIVE), pair, strict=False)],
            dtype=np.int64,
        )  # fmt: skip
        self._offsets = np.concatenate([[0], np.cumsum([a.rows * a.cols for a in arrays])])
        self._ideal_g = np.empty(0)
        if arrays[0].cells is None:
            self._ideal_g = np.concatenate([a._ideal.ravel() for a in arrays])
            for k, a in enumerate(arrays):
                a._ideal = self._ideal_g[self._offsets[k] : self._offsets[k + 1]].reshape(
                    a.rows, a.cols
                )

    # -- mapping -----------------------------------------------------------------------------------
    def _check_weight(self, weight: Any) -> tuple[np.ndarray, float]:
        """The weights as float64, or float32 when given so (converted exactly where used: half
        the memory to read on every write-on-change of a float32 torch weight), and their
        largest magnitude (found by the finiteness check)."""
        w = np.asarray(weight)
        if w.dtype != np.float32:
            w = w.astype(np.float64, copy=False)
        row_max = np.empty(w.shape[0]) if w.ndim == 2 else None
        if w.ndim != 2 or w.size == 0 or _count_nonfinite_rows(w, row_max):
            raise InvalidParameterError(
                "The 'weight' parameter of TiledMatrix must be a finite, non-empty 2-D array "
                f"(out x in). Got shape {w.shape} instead."
            )
        return w, float(row_max.max())

    def _window(self) -> tuple[np.ndarray, float, float]:
        """Levels (S), reference conductance and the conductance per unit weight."""
        c = self.config
        lo, hi = c.g_window_s
        if c.levels is None:
            levels = np.empty(0)
            g_ref = 0.5 * (lo + hi)
        else:
            levels = self.tiles[0][0][0].level_conductances
            g_ref = float(levels[len(levels) // 2])
        if c.mapping == "differential":
            span = hi - lo
        else:
            span = min(g_ref - lo, hi - g_ref)
        return levels, g_ref, span

    def program(self, weight: Any, report: bool = True) -> list[ProgramResult | PulseProgramResult]:
        """Write a new weight matrix of the same shape (every device write is counted).

        Multi-level devices are programmed only where their level changes (write-on-change);
        returns the program-and-verify results of the arrays that were written (``report=False``:
        an empty list, for callers that do not look, such as every training step).
        """
        w, w_max = self._check_weight(weight)
        if w.shape != (self.out_features, self.in_features):
            raise InvalidParameterError(
                f"The 'weight' parameter of TiledMatrix.program must have shape "
                f"{(self.out_features, self.in_features)}. Got {w.shape} instead."
            )
        c = self.config
        _levels, g_ref, span = self._window()
        w_range = c.weight_range if c.weight_range is not None else w_max
        w_range = w_range if w_range > 0 else 1.0
        self.weight_range = w_range
        self.g_per_weight = span / w_range
        cells = self.tiles[0][0][0].cells
        if isinstance(cells, MultiLevelRRAM):
            if cells.even_level_step > 0 and POOLED_PROGRAMMING:
                results, updated = self._program_pooled(w, w_range, g_ref, report)
                if updated:  # the read maps were brought up to date in place
                    return results
            else:
                results = self._program_by_array(w, w_range, g_ref)
        else:
            results = self._program_analog(w, w_range, g_ref)
        self._maps.clear()
        self._energy.invalidate()
        return results

    def _program_analog(self, w: np.ndarray, w_range: float,
                        g_ref: float) -> list[PulseProgramResult]:  # fmt: skip
        """Ideal devices set exactly (all arrays by one kernel call), analog pulse-response
        devices programmed by pulses where their (rounded) target changed; weights clipped to
        ``±w_range``."""
        c = self.config
        lo, hi = c.g_window_s
        if self.tiles[0][0][0].cells is None:  # inside the window by construction: no checks
            write_ideal(np.ascontiguousarray(w), w_range, lo, hi, g_ref, self.g_per_weight,
                        self._geometry, self._offsets, self._ideal_g)  # fmt: skip
            for array in self.arrays:
                array._cache.clear()
                array._transfer.clear()
            return []
        w = np.clip(w.astype(np.float64), -w_range, w_range)
        results = []
        for ri, r0 in enumerate(self._row_starts):
            for ci, c0 in enumerate(self._col_starts):
                arrays = self.tiles[ri][ci]
                n_out = arrays[0].cols - (c.mapping == "reference")
                block = w[c0 : c0 + n_out, r0 : r0 + arrays[0].rows].T
                if c.mapping == "differential":
                    targets = (
                        lo + np.maximum(block, 0) * self.g_per_weight,
                        lo + np.maximum(-block, 0) * self.g_per_weight,
                    )
                else:
                    col = np.full((block.shape[0], 1), g_ref)
                    targets = (np.hstack([g_ref + block * self.g_per_weight, col]),)
                for array, target in zip(arrays, targets, strict=True):
                    flat = array.pulse_targets(target).ravel()
                    change = np.flatnonzero(flat != array._pulse_target)
                    if change.size:
                        results.append(array._program_pulses(flat[change], change))
        return results

    def _program_by_array(self, w: np.ndarray, w_range: float,
                          g_ref: float) -> list[ProgramResult]:  # fmt: skip
        """Write-on-change of multi-level cells, one array after the other (uneven levels; the
        reference of the pooled path)."""
        c = self.config
        wanted, ref_level = self._wanted_levels(w.astype(np.float64), w_range, g_ref)
        results = []
        for ri, r0 in enumerate(self._row_starts):
            for ci, c0 in enumerate(self._col_starts):
                arrays = self.tiles[ri][ci]
                n_out = arrays[0].cols - (c.mapping == "reference")
                for k, array in enumerate(arrays):
                    lv = wanted[k][c0 : c0 + n_out, r0 : r0 + array.rows].T
                    if c.mapping == "reference":
                        lv = np.hstack([lv, np.full((array.rows, 1), ref_level)])
                    res = cast(MultiLevelRRAM, array.cells).program_changed(lv.ravel())
                    if res.cells.size:
                        results.append(res)
                        array._refresh(res.cells)
        return results

    def _program_pooled(self, w: np.ndarray, w_range: float, g_ref: float,
                        report: bool) -> tuple[list[ProgramResult], bool]:  # fmt: skip
        """Write-on-change of evenly spaced multi-level cells, all arrays in one kernel call
        (levels, program-and-verify, refresh of the conductances at the read time, update of
        the cached read maps); the same draws as programming every array on its own
        (:data:`POOLED_PROGRAMMING`)."""
        c = self.config
        pool, cond = self._cell_pool()
        cells0 = cast(MultiLevelRRAM, pool.populations[0])
        levels = cells0.level_conductances
        differential = c.mapping == "differential"
        n = pool.n_cells
        n_arrays = len(pool.populations)
        if self._changed is None:
            # kept between calls: fresh multi-megabyte arrays cost page faults every step
            self._changed = {
                "cells": np.empty(n, dtype=np.int64), "levels": np.empty(n, dtype=np.int64),
                "pops": np.empty(n, dtype=np.int64), "where": np.empty(n, dtype=np.int64),
                "iterations": np.empty(n, dtype=np.int32),
                "converged": np.empty(n, dtype=np.bool_),
            }  # fmt: skip
            if differential:  # the scan in the weights' layout
                self._changed.update(
                    counts=np.zeros(self.out_features, dtype=np.int64),
                    bounds=np.zeros(self.out_features + 1, dtype=np.int64),
                    wanted=np.empty_like(self._pair_targets),
                )  # fmt: skip
            else:  # the scan array by array
                self._changed.update(
                    counts=np.zeros(n_arrays, dtype=np.int64),
                    bounds=np.zeros(n_arrays + 1, dtype=np.int64),
                    scan_levels=np.empty(n, dtype=np.int64),
                    # each array's levels by column; rows padded: no power-of-two stride
                    scratch=np.empty((n_arrays, c.tile_cols + 1, c.tile_rows + 8),
                                     dtype=np.int16),
                )  # fmt: skip
        b = self._changed
        maps = self._maps_to_update()
        dg3, sq3, sq_bits = maps if maps is not None else (_NO_BLOCK, _NO_BLOCK, _NO_BITS)
        state = pool.program_state((c.read_time_s, cond))
        if differential:
            total = write_pairs_on_change(
                np.ascontiguousarray(w), w_range, c.g_window_s[0], self.g_per_weight, levels[0],
                1.0 / cells0.even_level_step, levels.size - 1, c.tile_rows, self._per_tile,
                len(self._col_starts), self._geometry, pool.offsets, self._pair_targets,
                b["wanted"], b["counts"], b["bounds"], b["cells"], b["levels"], b["pops"],
                b["where"], b["iterations"], b["converged"], state, cond, dg3, sq3, sq_bits,
                maps is not None,
            )  # fmt: skip
        else:
            ref_level = int(cells0.nearest_level(np.array([g_ref]))[0])
            total = write_on_change(
                np.ascontiguousarray(w), w_range, g_ref, self.g_per_weight, levels[0],
                1.0 / cells0.even_level_step, levels.size - 1, self._geometry, pool.offsets,
                ref_level, self._targets, b["where"], b["scan_levels"], b["counts"],
                b["bounds"], b["cells"], b["levels"], b["pops"], b["iterations"],
                b["converged"], state, b["scratch"],
            )  # fmt: skip
        if maps is not None:
            self._finish_update()
        results = self._results(
            b["cells"][:total],
            b["levels"][:total],
            b["pops"][:total],
            b["iterations"][:total],
            b["converged"][:total],
            report,
        )
        return results, maps is not None

    def _results(self, cells: np.ndarray, levels: np.ndarray, pops: np.ndarray,
                 iterations: np.ndarray, converged: np.ndarray,
                 report: bool) -> list[ProgramResult]:  # fmt: skip
        """The written arrays' caches dropped; with ``report``, one ``ProgramResult`` per written
        array, its cells in increasing order (as array-by-array programming reports them)."""
        arrays = self.arrays
        written = np.flatnonzero(np.bincount(pops, minlength=len(arrays)))
        for a in written:
            arrays[a]._transfer.clear()
        if not report:
            return []
        order = np.lexsort((cells, pops))
        cells, levels, pops = cells[order], levels[order], pops[order]
        iterations, converged = iterations[order], converged[order]
        bounds = np.searchsorted(pops, np.concatenate([written, [len(arrays)]]))
        offsets = self._pool.offsets
        return [ProgramResult(cells[lo:hi] - offsets[a], levels[lo:hi], iterations[lo:hi],
                              converged[lo:hi])
                for a, lo, hi in zip(written, bounds[:-1], bounds[1:], strict=True)]  # fmt: skip

    def _cell_pool(self) -> tuple[CellPool, np.ndarray]:
        """The arrays' cells as one pool (made again when they were replaced, e.g. by
        :meth:`load_state`), and their conductances at the read time, which the arrays' own
        caches view (recomputed for an array whose cache was dropped or moved to another time)."""
        arrays = self.arrays
        cells = [cast(MultiLevelRRAM, a.cells) for a in arrays]
        if self._pool is None or not self._pool.holds(cells):
            self._pool = CellPool(cells)
            self._pool_g = np.empty(self._pool.n_cells)
            off = self._pool.offsets
            self._pool_views = [self._pool_g[off[k] : off[k + 1]].reshape(a.rows, a.cols)
                                for k, a in enumerate(arrays)]  # fmt: skip
            # the cells' target levels as int16 (levels <= 1024): what write-on-change compares
            # with, a quarter of the memory to scan; kept equal to the cells' own targets. For
            # differential pairs in the weights' layout, (G+/G-, out, in): the scan reads it
            # along the weights' rows
            self._targets = np.empty(0, dtype=np.int16)
            self._pair_targets = np.empty((2, 0, 0), dtype=np.int16)
            if self.config.mapping == "differential":
                self._pair_targets = np.empty((2, self.out_features, self.in_features),
                                              dtype=np.int16)  # fmt: skip
            else:
                self._targets = np.empty(self._pool.n_cells, dtype=np.int16)
            for k in range(len(arrays)):
                self._copy_targets(k)
            self._changed: dict[str, np.ndarray] | None = None
        t = self.config.read_time_s
        for k, (a, view) in enumerate(zip(arrays, self._pool_views, strict=True)):
            # an array programmed directly (program_levels) dropped its cache: take its state
            if a._cache.get(t) is not view:
                cast(MultiLevelRRAM, a.cells).conductance(t, out=view.reshape(-1))
                a._cache = {t: view}
                self._copy_targets(k)
        return self._pool, self._pool_g

    def _copy_targets(self, k: int) -> None:
        """Array ``k``'s target levels into the copies write-on-change compares with."""
        off = self._pool.offsets
        own = self._pool.buffers["_target"][off[k] : off[k + 1]]
        if self._pair_targets.size:
            r0, c0, rows, n_out, side = self._geometry[k]
            self._pair_targets[side, c0 : c0 + n_out, r0 : r0 + rows] = own.reshape(rows, n_out).T
        else:
            self._targets[off[k] : off[k + 1]] = own

    def _wanted_levels(self, w: np.ndarray, w_range: float,
                       g_ref: float) -> tuple[tuple[np.ndarray, ...], int]:  # fmt: skip
        """Level index of every device for weights ``w``, as (out, in) arrays (G+ and G- for
        differential pairs), and the reference column's level."""
        c = self.config
        cells = cast(MultiLevelRRAM, self.tiles[0][0][0].cells)
        levels = cells.level_conductances
        step = cells.even_level_step
        lo = c.g_window_s[0]
        ref_level = int(cells.nearest_level(np.array([g_ref]))[0])
        differential = c.mapping == "differential"
        g_zero = lo if differential else g_ref
        if step == 0.0:  # uneven levels: a search per device
            if differential:
                gp = lo + np.clip(w, 0, w_range) * self.g_per_weight
                gn = lo + np.clip(-w, 0, w_range) * self.g_per_weight
                return (cells.nearest_level(gp), cells.nearest_level(gn)), ref_level
            g = g_zero + np.clip(w, -w_range, w_range) * self.g_per_weight
            return (cells.nearest_level(g),), ref_level
        shape = w.shape
        if self._level_work is None or self._level_work[0].shape != shape:
            # kept between calls: fresh multi-megabyte arrays cost page faults every step
            self._level_work = (np.empty(shape, dtype=np.int64),
                                np.empty(shape if differential else (1, 0), dtype=np.int64))  # fmt: skip
        first, second = self._level_work  # second: (1, 0) and unused for single devices
        weight_levels(np.ascontiguousarray(w), w_range, g_zero, self.g_per_weight, levels[0],
                      1.0 / step, levels.size - 1, differential, first, second)  # fmt: skip
        return ((first, second) if differential else (first,)), ref_level

    def _assemble(self, t: float) -> tuple[np.ndarray, ...]:
        """Per row tile: delta-G (rows x out), summed squares for the noise, ADC steps, refs."""
        cached = self._maps.get(t)
        if cached is not None:
            return cached
        c = self.config
        n_r = len(self._row_starts)
        if c.mapping == "differential":
            out = self._assemble_pairs(t)
            self._maps.put(t, out)
            return out
        dg, sq, ref_g, ref_sq = [], [], [], []
        for ri in range(n_r):
            blocks_dg, blocks_sq, rg, rs = [], [], [], []
            for arrays in self.tiles[ri]:
                # the read map: the conductances, or with wire resistance the exact transfer
                # matrix (the noise variances keep the cells' conductances)
                g = arrays[0].conductance(t)  # one array: signal columns + the reference
                read = arrays[0].transfer(t) if c.ir_drop else g
                blocks_dg.append(read[:, :-1])
                blocks_sq.append(g[:, :-1] ** 2)
                rg.append(read[:, -1])
                rs.append(g[:, -1] ** 2)
            dg.append(np.hstack(blocks_dg))
            sq.append(np.hstack(blocks_sq))
            ref_g.append(np.stack(rg, axis=1))
            ref_sq.append(np.stack(rs, axis=1))
        v_read = c.dac.v_read_v
        step = np.zeros((n_r, self.out_features))
        if c.adc.bits is not None:
            qmax = 2 ** (c.adc.bits - 1) - 1
            for ri in range(n_r):
                if c.adc.full_scale_a is not None:
                    fs = np.full(self.out_features, c.adc.full_scale_a)
                else:  # calibrated on the (reference-subtracted) column conductances
                    ref = np.repeat(ref_g[ri], self._per_tile, axis=1)[:, : self.out_features]
                    signal = dg[ri] - ref
                    if c.adc.range_mode == "sigma":
                        fs = c.adc.range_sigmas * v_read * np.sqrt((signal**2).sum(axis=0) / 3.0)
                    else:
                        fs = 1.1 * v_read * np.abs(signal).sum(axis=0)
                step[ri] = np.where(fs > 0, fs / qmax, 1e-30)
        if self._single_precision:  # converters or noise dominate float32 rounding by far
            dg = [a.astype(np.float32) for a in dg]
            sq = [a.astype(np.float32) for a in sq]
        out = (dg, sq, ref_g, ref_sq, step)
        self._maps.put(t, out)
        self._energy.remember(t, self._row_conductance(t))
        return out

    def _row_conductance(self, t: float) -> list[np.ndarray]:
        """Total conductance on each word line, per row tile (the cells' read energy)."""
        return [sum(a.conductance(t).sum(axis=1) for arrays in row for a in arrays)
                for row in self.tiles]  # fmt: skip

    def _assemble_pairs(self, t: float) -> tuple[np.ndarray, ...]:
        """:meth:`_assemble` for differential pairs: one numba pass per tile writes its columns
        of the row tile's arrays (already in the read precision) and the word-line conductances
        (the energy estimate); the ADC calibration sums follow from the stored ``ΔG``."""
        c = self.config
        n_r = len(self._row_starts)
        dtype = np.float32 if self._single_precision else np.float64
        # one block per quantity, row tiles as views: pooled programming updates them in place
        dg3 = np.zeros((n_r, c.tile_rows, self.out_features), dtype=dtype)
        sq3 = np.zeros((n_r, c.tile_rows, self.out_features), dtype=dtype)
        dg, sq, row_g = [], [], []
        for ri in range(n_r):
            rows = self.tiles[ri][0][0].rows
            row_g.append(np.zeros(rows))
            dg.append(dg3[ri, :rows])
            sq.append(sq3[ri, :rows])
            for ci, c0 in enumerate(self._col_starts):
                pos, neg = self.tiles[ri][ci]
                g_p, g_n = pos.conductance(t), neg.conductance(t)
                # the read maps: the conductances, or with wire resistance the exact transfer
                # matrices (the noise variances keep the cells' conductances)
                r_p, r_n = (pos.transfer(t), neg.transfer(t)) if c.ir_drop else (g_p, g_n)
                pair_terms(r_p, r_n, g_p, g_n, dg[ri], sq[ri], c0, row_g[ri])
        step = self._adc_steps(dg3)
        self._energy.remember(t, row_g)
        self._blocks = (dg3, sq3)
        return dg, sq, [], [], step

    def _adc_steps(self, dg3: np.ndarray, step: np.ndarray | None = None,
                   maps: _FastMaps | None = None) -> np.ndarray:  # fmt: skip
        """ADC steps of differential tiles, (row tiles, out): from the full scale, or calibrated
        on the columns' stored ``ΔG`` (rows past a row tile's last input are zero); written into
        ``step`` and the float32 steps of the fast read's ``maps`` when given."""
        c = self.config
        n_r = dg3.shape[0]
        step = np.empty((n_r, self.out_features)) if step is None else step
        if c.adc.bits is None:
            step[...] = 0.0
        elif c.adc.full_scale_a is not None:
            fs = c.adc.full_scale_a
            step[...] = fs / (2 ** (c.adc.bits - 1) - 1) if fs > 0 else 1e-30
        else:
            sigmas = c.adc.range_sigmas if c.adc.range_mode == "sigma" else 0.0
            adc_steps(dg3, float(sigmas), c.dac.v_read_v, float(2 ** (c.adc.bits - 1) - 1), step)
        if maps is not None:
            fast = self._fast_steps(step)
            maps.step[...] = fast["step"]
            maps.inv_step[...] = fast["inv_step"]
        return step

    def _maps_to_update(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The cached read maps at the read time that pooled programming updates in place at the
        cells it writes (``ΔG``, its squares, their bfloat16 bits for the fast read), or None:
        no cache, single devices, or wire resistance (every transfer entry depends on every
        cell). The fixed-point operands of the fast read are dropped (made again when needed).
        The in-place values equal a fresh :meth:`_assemble`'s (tested)."""
        c = self.config
        t = c.read_time_s
        if c.mapping != "differential" or c.ir_drop or self._maps.get(t) is None:
            return None
        self._maps.drop_fixed_point()
        maps = self._maps.fast(t, 0)
        return (*self._blocks, _NO_BITS if maps is None else maps.sq_bits)

    def _finish_update(self) -> None:
        """After the in-place update of the read maps: the ADC steps (and their float32 copies)
        from the new ``ΔG``; the word-line conductances are summed again when asked for."""
        t = self.config.read_time_s
        self._adc_steps(self._blocks[0], self._maps.get(t)[4], self._maps.fast(t, 0))
        self._energy.invalidate()

    @property
    def _single_precision(self) -> bool:
        c = self.config
        return c.adc.bits is not None or c.read_noise_rel > 0

    def _workspace(self, n_b: int, dtype: type, noisy: bool) -> tuple[np.ndarray, ...]:
        """Scratch arrays of a float read (numpy path): word-line voltages, their squared
        noise weights, column currents and their variances, per row tile."""
        n_r, rows, cols = len(self._row_starts), self.config.tile_rows, self.out_features
        no = (0, 0, 0)
        return self._scratch.get(("float", n_b, dtype, noisy), lambda: (
            np.empty((n_r, n_b, rows), dtype=dtype),  # word-line voltages per row tile
            np.empty((n_r, n_b, rows) if noisy else no, dtype=dtype),  # sigma^2 v^2
            np.empty((n_r, n_b, cols), dtype=dtype),  # column currents
            np.empty((n_r, n_b, cols) if noisy else no, dtype=dtype),  # their variances
        ))  # fmt: skip

    def weight_values(self) -> np.ndarray:
        """The weights a cell (single-device mapping) or a pair (differential) can store,
        increasing; empty with ideal (continuous) devices. Reference-column mapping: only the
        values within ``±weight_range`` (weights are clipped to it)."""
        levels = self.tiles[0][0][0].level_conductances
        if levels.size == 0:
            return levels
        if self.config.mapping == "differential":
            mags = (levels - levels[0]) / self.g_per_weight
            return np.concatenate([-mags[:0:-1], mags])
        values = (levels - levels[len(levels) // 2]) / self.g_per_weight
        return values[np.abs(values) <= self.weight_range * (1 + 1e-9)]

    # -- reads ---------------------------------------------------------------------------------------
    def matvec(self, x: Any, t: float | None = None) -> np.ndarray:
        """``W @ x`` computed by the crossbar: ``x`` of shape (in,) or (B, in); returns (out,)/(B, out)."""
        c = self.config
        xx = np.asarray(x)
        if xx.dtype not in (np.float32, np.float64):
            xx = xx.astype(np.float64)
        single = xx.ndim == 1
        xx = np.atleast_2d(xx)
        abs_max = np.empty(xx.shape[0])
        if xx.ndim != 2 or xx.shape[1] != self.in_features or _count_nonfinite_rows(xx, abs_max):
            raise InvalidParameterError(
                f"The 'x' parameter of TiledMatrix.matvec must be finite with shape "
                f"({self.in_features},) or (B, {self.in_features}). Got shape {np.shape(x)} instead."
            )
        if not c.dac.signed and (xx < 0).any():
            raise InvalidParameterError(
                "The 'x' parameter of TiledMatrix.matvec must be >= 0 with an unsigned DAC "
                "(config.dac.signed=False)."
            )
        t = c.read_time_s if t is None else check_real("t", t, "TiledMatrix.matvec", 0.0)
        dg, sq, ref_g, ref_sq, step = self._assemble(t)
        # DAC
        scale = (
            np.full(xx.shape[0], c.dac.input_range) if c.dac.input_range is not None else abs_max
        )
        scale = np.where(scale > 0, scale, 1.0)
        levels = 0
        if c.dac.bits is not None:
            levels = 2 ** (c.dac.bits - 1) - 1 if c.dac.signed else 2**c.dac.bits - 1
        n_r, n_b = len(self._row_starts), xx.shape[0]
        dtype = np.float32 if self._single_precision else np.float64
        noisy = c.read_noise_rel > 0
        n_t = len(self._col_starts) if ref_g else 0
        qmax = 2 ** (c.adc.bits - 1) - 1 if c.adc.bits is not None else 1
        key = derive_key(self._noise_seed, _STREAM_NOISE, self._calls)
        to_weight = scale / (c.dac.v_read_v * self.g_per_weight)  # current -> weight units
        y = np.empty((n_b, self.out_features))
        fast = _fast_reads(c, n_b) if noisy and not n_t else None
        if fast is not None:
            v = self._read_fast(xx, scale, levels if fast == "fixed_point" else 0, t, key, qmax,
                                to_weight, y)  # fmt: skip
        else:
            v, v2, mean, var = self._workspace(n_b, dtype, noisy)
            dac_tiles(xx, scale, levels, c.dac.v_read_v, c.read_noise_rel**2, v, v2, _NO_CODES)
            ref_mean = np.zeros((n_r, n_b, n_t))
            ref_var = np.zeros((n_r, n_b, n_t))
            for ri in range(n_r):
                rows = dg[ri].shape[0]
                vr = v[ri, :, :rows]
                np.matmul(vr, dg[ri], out=mean[ri])  # with IR drop, dg holds the transfer maps
                if noisy:
                    np.matmul(v2[ri, :, :rows], sq[ri], out=var[ri])
                if n_t:
                    ref_mean[ri] = vr @ ref_g[ri]
                    if noisy:
                        ref_var[ri] = v2[ri, :, :rows] @ ref_sq[ri]
            col_tile = np.repeat(np.arange(len(self._col_starts)), self._per_tile)
            read_out(mean, var, ref_mean, ref_var, col_tile[: self.out_features], step, qmax, key,
                     to_weight, y)  # fmt: skip
        self._calls += 1
        self.count_reads(n_b)
        # the estimate is made when asked for (last_stats); the read keeps what it needs
        v2_sum = np.empty((v.shape[0], v.shape[2]))
        squares_over_batch(v, v2_sum)
        self._energy.record(v2_sum, n_b, t)
        return y[0] if single else y

    def _read_fast(self, xx: np.ndarray, scale: np.ndarray, levels: int, t: float,
                   key: np.uint64, qmax: int, to_weight: np.ndarray,
                   y: np.ndarray) -> np.ndarray:  # fmt: skip
        """The noisy read of differential tiles in the fast arithmetic (``y`` written).

        Mean currents: with ``levels`` (a DAC of at most 127 codes, and a batch large enough to
        repay the preparation), exact integer products of the codes and each column's
        fixed-point ``ΔG`` digits (:func:`fixed_point_terms`), by ``torch._int_mm``; otherwise
        (``levels = 0``) float32 products. Variances: bfloat16 products; noise and ADC:
        :func:`read_out32` (``CrossbarConfig.read_precision``). Returns the word-line voltages
        (the energy estimate's input)."""
        import torch  # the products run in torch: numpy has no bfloat16 or int8 products

        c = self.config
        n_r, n_b = len(self._row_starts), xx.shape[0]
        rows, cols = c.tile_rows, self.out_features
        exact_int = 0 < levels <= 127
        n_terms = _FIXED_POINT_DIGITS if exact_int else 1
        v, v2, codes, v2_bf, terms, var = self._scratch.get(("bfloat16", n_b, exact_int), lambda: (
            np.empty((n_r, n_b, rows), dtype=np.float32),  # word-line voltages
            np.empty((n_r, n_b, rows), dtype=np.float32),  # sigma^2 v^2
            np.empty((n_r, n_b, rows) if exact_int else (0, 0, 0), dtype=np.int8),  # codes
            torch.empty((n_r, n_b, rows), dtype=torch.bfloat16),  # sigma^2 v^2, bfloat16
            torch.empty(  # partial products of the currents (integer: one tile's)
                (1 if exact_int else n_r, n_b, n_terms * cols),
                dtype=torch.int32 if exact_int else torch.float32,
            ),
            torch.empty((1 if exact_int else n_r, n_b, cols), dtype=torch.bfloat16),
        ))  # fmt: skip
        dac_tiles(xx, scale, levels, c.dac.v_read_v, c.read_noise_rel**2, v, v2, codes)
        v2_bf.copy_(torch.from_numpy(v2))
        maps = self._fast_maps(t, levels if exact_int else 0)
        var_bits = var.view(torch.int16).numpy().view(np.uint16)
        if exact_int:
            # no batched integer product in torch: one per row tile, each read out at once,
            # while its partial products are in cache (all tiles' would be 16 MB at batch 256)
            tile_terms, tile_var = terms[0], var[0]
            tile_bits = var_bits[0]
            for ri in range(n_r):
                torch._int_mm(torch.from_numpy(codes[ri]), maps.digits[ri], out=tile_terms)
                torch.mm(v2_bf[ri], maps.sq_blocks[ri], out=tile_var)
                read_out32_tile(ri, n_r, tile_terms.numpy(), maps.weights[ri], tile_bits,
                                maps.step[ri], maps.inv_step[ri], qmax, key, to_weight, y)  # fmt: skip
        else:  # the full row tiles in one batched product, the last one's rows on their own
            # (784 inputs: 16 of 128 rows; a padded product costs 14 % more). Float32 means of
            # small tiles by numpy's BLAS (4x faster than torch.bmm on a 10-output layer's),
            # of larger ones by torch: numpy's OpenBLAS runs those on threads of its own, which
            # contend with torch's OpenMP threads between the steps of training (3x slower
            # demo on 2 cores)
            v_t, terms_np = torch.from_numpy(v), terms.numpy()
            last = self.in_features - (n_r - 1) * rows  # rows of the last row tile
            full = n_r if last == rows else n_r - 1
            small = n_b * rows * cols < _OPENBLAS_ONE_THREAD
            if full:
                if small:
                    np.matmul(v[:full], maps.blocks[:full].numpy(), out=terms_np[:full])
                else:
                    torch.bmm(v_t[:full], maps.blocks[:full], out=terms[:full])
                torch.bmm(v2_bf[:full], maps.sq_blocks[:full], out=var[:full])
            if full < n_r:
                if n_b * last * cols < _OPENBLAS_ONE_THREAD:
                    np.matmul(v[-1, :, :last], maps.blocks[-1, :last].numpy(), out=terms_np[-1])
                else:
                    torch.mm(v_t[-1, :, :last], maps.blocks[-1, :last], out=terms[-1])
                torch.mm(v2_bf[-1, :, :last], maps.sq_blocks[-1, :last], out=var[-1])
            read_out32(terms.numpy(), maps.weights, var_bits, maps.step, maps.inv_step, qmax,
                       key, to_weight, y)  # fmt: skip
        return v

    def _fast_maps(self, t: float, levels: int) -> _FastMaps:
        """The operands of :meth:`_read_fast` at read time ``t`` (kept with
        :meth:`_assemble`'s: reprogramming clears or updates both); ``levels`` > 0: the DAC's
        largest code, for the fixed-point digits."""
        maps = self._maps.fast(t, levels)
        if maps is None:
            dg, sq, _, _, step = self._assemble(t)  # (may start new maps: stored after)
            maps = self._fast_maps_of(dg, sq, step, levels)
            self._maps.put_fast(t, levels, maps)
        return maps

    def _fast_maps_of(self, dg: list[np.ndarray], sq: list[np.ndarray], step: np.ndarray,
                      levels: int) -> _FastMaps:  # fmt: skip
        """:meth:`_fast_maps` from assembled maps (the float32 ``ΔG`` operand is a view of the
        assembled block: in-place updates reach it; the bfloat16 squares are updated through
        ``sq_bits``)."""
        import torch

        rows, cols = self.config.tile_rows, self.out_features
        n_terms = _FIXED_POINT_DIGITS if levels else 1
        weights = np.ones((len(dg), n_terms * cols), np.float32)
        digits = []
        sq_bf3 = torch.zeros((len(dg), rows, cols), dtype=torch.bfloat16)  # zero past last input
        for ri, (d, s) in enumerate(zip(dg, sq, strict=True)):
            sq_bf3[ri, : s.shape[0]] = torch.from_numpy(np.asarray(s, dtype=np.float32))
            if levels:
                q = np.zeros((rows, n_terms * cols), dtype=np.int8)
                w = np.empty(n_terms * cols)
                fixed_point_terms(d, n_terms, q[: d.shape[0]], w)
                digits.append(torch.from_numpy(q))
                # codes -> volts: v = code * v_read / levels
                weights[ri] = w * (self.config.dac.v_read_v / levels)
        bits = sq_bf3.view(torch.int16).numpy().view(np.uint16)
        blocks = None if levels else torch.from_numpy(self._blocks[0])  # a view: follows updates
        return _FastMaps(digits, weights, blocks, sq_bf3, bits, **self._fast_steps(step))

    @staticmethod
    def _fast_steps(step: np.ndarray) -> dict[str, np.ndarray]:
        """The ADC steps of the fast read in float32, and their reciprocals (0 where 0)."""
        step32 = step.astype(np.float32)
        inv = np.divide(np.float32(1.0), step32, out=np.zeros_like(step32), where=step32 > 0)
        return {"step": step32, "inv_step": inv}

    @property
    def last_stats(self) -> MVMStats | None:
        """Energy and latency estimate of the last :meth:`matvec` (``None`` before the first)."""
        return self._energy.last_stats(self.config)

    @property
    def is_exact_product(self) -> bool:
        """True when a read is exactly ``x @ W_eff^T``: ideal devices and converters, no noise,
        no wire resistance (callers may then compute the product directly)."""
        c = self.config
        return (c.ideal_devices and c.dac.bits is None and c.adc.bits is None
                and not c.ir_drop)  # fmt: skip

    def count_reads(self, n_vectors: int) -> None:
        """Count ``n_vectors`` reads of every array (each read reads all its cells)."""
        for row in self.tiles:
            for arrays in row:
                for array in arrays:
                    array.read_count += n_vectors

    # -- views -----------------------------------------------------------------------------------
    def effective_weight(self, t: float = 0.0) -> np.ndarray:
        """The weight the arrays represent ``t`` s after programming, without converters and
        noise (with wire resistance, when ``config.ir_drop`` is on: exactly what a read maps)."""
        dg = self._assemble(t)[0]
        if self.config.mapping == "differential":  # the row tiles are views of one block
            full = self._blocks[0].reshape(-1, self.out_features)[: self.in_features]
        else:
            full = np.vstack(dg)  # (in, out)
        if self.config.mapping == "reference":
            ref = np.vstack([np.repeat(r, self._per_tile, axis=1)[:, : self.out_features]
                             for r in self._assemble(t)[2]])  # fmt: skip
            full = full - ref
        return (full / self.g_per_weight).T

    @property
    def arrays(self) -> list[CrossbarArray]:
        """Every crossbar array of the matrix."""
        return [a for row in self.tiles for arrays in row for a in arrays]

    # -- persistence -------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Complete state (devices, counters, random streams) as a JSON-ready header and arrays."""
        meta: dict[str, Any] = {
            "shape": [self.out_features, self.in_features],
            "noise_seed": str(self._noise_seed),
            "calls": self._calls,
            "weight_range": self.weight_range,
            "config_weight_range": self.config.weight_range,
            "g_per_weight": self.g_per_weight,
            "arrays": [],
        }
        arrays: dict[str, np.ndarray] = {}
        for k, a in enumerate(self.arrays):
            entry: dict[str, Any] = {"shape": [a.rows, a.cols], "noise_seed": str(a._noise_seed),
                                     "reads": a._reads, "read_count": a.read_count}  # fmt: skip
            if a.cells is None:
                arrays[f"a{k}.ideal"] = a._ideal
            elif isinstance(a.cells, PulseResponseDevice):
                cell_meta, cell_arrays = a.cells.state()
                entry["pulse_cells"] = cell_meta
                arrays.update({f"a{k}.{name}": v for name, v in cell_arrays.items()})
                arrays[f"a{k}.pulse_target"] = a._pulse_target
            else:
                cell_meta, cell_arrays = a.cells.state()
                entry["cells"] = cell_meta
                arrays.update({f"a{k}.{name}": v for name, v in cell_arrays.items()})
            meta["arrays"].append(entry)
        return meta, arrays

    def load_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore a state from :meth:`state` into a matrix of the same shape and configuration."""
        if list(meta.get("shape", [])) != [self.out_features, self.in_features] or len(
            meta.get("arrays", [])
        ) != len(self.arrays):
            raise InvalidParameterError(
                f"The state is of a {meta.get('shape')} matrix with {len(meta.get('arrays', []))} "
                f"arrays; this one is {[self.out_features, self.in_features]} with "
                f"{len(self.arrays)}."
            )
        for k, (a, entry) in enumerate(zip(self.arrays, meta["arrays"], strict=True)):
            kind = ("cells" if isinstance(a.cells, MultiLevelRRAM) else
                    "pulse_cells" if a.cells is not None else None)  # fmt: skip
            stored = (
                "cells" if "cells" in entry else "pulse_cells" if "pulse_cells" in entry else None
            )
            if [a.rows, a.cols] != list(entry["shape"]) or kind != stored:
                raise InvalidParameterError(f"Array {k} of the state does not match this matrix.")
            prefix = f"a{k}."
            cell_arrays = {n[len(prefix) :]: v for n, v in arrays.items() if n.startswith(prefix)}
            if kind is None:
                a._ideal[...] = arrays[f"a{k}.ideal"]
            elif kind == "pulse_cells":
                a.cells = PulseResponseDevice.from_state(entry["pulse_cells"], cell_arrays,
                                                         where=f"array {k}")  # fmt: skip
                a._pulse_target[...] = cell_arrays["pulse_target"]
            else:
                cells = MultiLevelRRAM.from_state(entry["cells"], cell_arrays, where=f"array {k}")
                if not np.array_equal(cells.level_conductances, a.cells.level_conductances):
                    raise InvalidParameterError(
                        f"Array {k} of the state has {cells.level_conductances.size} conductance "
                        f"levels {cells.level_conductances.tolist()}; this matrix's configuration "
                        f"has {a.cells.level_conductances.size}."
                    )
                a.cells = cells
            a._noise_seed = int(entry["noise_seed"])
            a._reads = int(entry["reads"])
            a.read_count = int(entry["read_count"])
            a._cache.clear()
            a._transfer.clear()
        self._noise_seed = int(meta["noise_seed"])
        self._calls = int(meta["calls"])
        for key in ("weight_range", "g_per_weight"):
            value = float(meta[key])
            if not (np.isfinite(value) and value > 0):
                raise InvalidParameterError(f"The state's {key!r} must be > 0; got {value!r}.")
        self.weight_range = float(meta["weight_range"])
        self.g_per_weight = float(meta["g_per_weight"])
        self._energy.invalidate()
        self.config = dataclasses.replace(self.config, weight_range=meta["config_weight_range"])
        self._maps.clear()


_NO_CODES = np.empty((0, 0, 0), dtype=np.int8)

#: Products of fewer multiply-adds (m n k) than this run on one thread in OpenBLAS (its
#: ``GEMM_MULTITHREAD_THRESHOLD`` 4 times 65536): below it numpy's BLAS is safe beside torch.
_OPENBLAS_ONE_THREAD = 4 * 65536


class _ReadMaps:
    """The read maps of one read time, assembled from the cells (``ΔG`` or the single devices'
    conductances, their squares for the noise, the reference columns, the ADC steps), and the
    fast read's operands made from them (per DAC code range; 0: the float operands). Programming
    clears them, or — pooled programming of pairs — updates them in place at the written cells
    (the fixed-point operands are then dropped and made again). One read time at a time: maps
    of another time replace them."""

    def __init__(self) -> None:
        self._t: float | None = None
        self._maps: tuple[Any, ...] | None = None
        self._fast: dict[int, Any] = {}

    def clear(self) -> None:
        self._t, self._maps, self._fast = None, None, {}

    def get(self, t: float) -> tuple[Any, ...] | None:
        return self._maps if self._t == t else None

    def put(self, t: float, maps: tuple[Any, ...]) -> None:
        self._t, self._maps, self._fast = t, maps, {}

    def fast(self, t: float, levels: int) -> Any:
        return self._fast.get(levels) if self._t == t else None

    def put_fast(self, t: float, levels: int, maps: Any) -> None:
        if self._t == t:  # (operands without their maps would outlive an update)
            self._fast[levels] = maps

    def drop_fixed_point(self) -> None:
        self._fast = {k: v for k, v in self._fast.items() if k == 0}


class _Scratch:
    """The scratch arrays of the last read layout, kept between calls: fresh multi-megabyte
    arrays cost a page fault per 4 KiB on first touch, as much time as the products themselves.
    One set at a time (a read path and batch size change rarely)."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._arrays: tuple[Any, ...] = ()

    def get(self, key: tuple[Any, ...], make: Any) -> tuple[Any, ...]:
        """The arrays for ``key``, made by ``make()`` when the key changed."""
        if key != self._key:
            self._arrays = make()
            self._key = key
        return self._arrays


def _count_nonfinite_rows(x: np.ndarray, abs_max: np.ndarray | None = None) -> int:
    """Rows of the float32 / float64 matrix ``x`` with a non-finite entry (one SIMD pass,
    :func:`input_scale`); ``abs_max`` receives each row's largest magnitude."""
    out = np.empty(x.shape[0]) if abs_max is None else abs_max
    bits = np.ascontiguousarray(x).view(np.int32 if x.dtype == np.float32 else np.int64)
    return int(input_scale(bits, x.dtype == np.float64, out))


_NO_BITS = np.empty((0, 0, 0), dtype=np.uint16)
_NO_BLOCK = np.empty((0, 0, 0), dtype=np.float32)

#: Program the multi-level cells of a tiled matrix as one pool (:class:`devices.CellPool`); False
#: programs array by array (the reference the pooled path is tested against, draw for draw).
POOLED_PROGRAMMING = True

#: Base-254 int8 digits per ΔG in the integer read path: 2 keep ΔG to 1.6e-5 of each column's
#: largest entry (3 would reach float32 rounding, 6.1e-8, but each digit is one more int8
#: product and 8 MB more to read back: the fast read would then be no faster than float32;
#: :func:`read_out32` takes 1 or 2 terms).
_FIXED_POINT_DIGITS = 2


@dataclasses.dataclass(frozen=True)
class _FastMaps:
    """Operands of the fast read (:meth:`TiledMatrix._read_fast`), per row tile."""

    digits: list[Any]  # per row tile int8 (tile_rows, T * C) fixed-point digits of ΔG (T = 2)
    weights: np.ndarray  # (R, T * C) float32 weight of each digit (volts per code included)
    blocks: Any  # without digits (T = 1): float32 ΔG of all row tiles, (R, tile_rows, C)
    sq_blocks: Any  # bfloat16 G+**2 + G-**2 of all row tiles, zero rows past the last input
    sq_bits: np.ndarray  # the same, as uint16 bits (updated in place)
    step: np.ndarray  # (R, C) float32 ADC steps
    inv_step: np.ndarray  # their float32 reciprocals (0 where the step is 0)


@functools.cache
def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX-BF16)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return bool(features.get("avx512bf16", False) or features.get("amx-bf16", False))


#: "auto" reads this many input vectors or more at once with integer mean products: their
#: fixed-point operands are prepared once per programmed state, which costs about as much as
#: reading ~100 vectors, so smaller batches (training steps, which reprogram between reads) take
#: float32 mean products, whose operand is the assembled ΔG itself.
FAST_READ_MIN_BATCH = 128


def _fast_reads(config: CrossbarConfig, n_vectors: int) -> str | None:
    """The arithmetic of a noisy read of ``n_vectors`` (``read_precision``): None (float32),
    ``"fixed_point"`` (integer products of the means, for large batches) or ``"float32_mean"``
    (float32 products of the means, for small ones, whose operands cost nothing to prepare);
    the variances are bfloat16 products in both fast forms."""
    choice = config.read_precision
    if choice == "float32" or (choice == "auto" and not native_bfloat16()):
        return None
    if choice == "fast" or n_vectors >= FAST_READ_MIN_BATCH:
        return "fixed_point"
    return "float32_mean"


def _extremes(a: np.ndarray) -> str:
    return f"values in [{a.min()!r}, {a.max()!r}] of dtype {a.dtype}" if a.size else "nothing"
