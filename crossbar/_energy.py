"""Energy and latency of a tiled matrix's reads (the model of docs/crossbar.md).

:class:`ReadEnergy` is the collaborator of :class:`crossbar.array.TiledMatrix` that owns this
state: the conductance on each word line (per read time, computed once per programming and
dropped when the matrix is programmed again), what the last read needs for its estimate (the
summed squared word-line voltages), and the estimate itself, made only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MVMStats", "ReadEnergy"]


@dataclass(frozen=True)
class MVMStats:
    """Energy and latency estimate of the last matrix-vector product (``docs/crossbar.md``)."""

    energy_j: float
    cell_energy_j: float
    dac_energy_j: float
    adc_energy_j: float
    digital_energy_j: float
    latency_s: float
    adc_conversions: int


class ReadEnergy:
    """Read energy of one tiled matrix.

    Parameters
    ----------
    in_features, out_features : int
        The matrix's shape (inputs: word lines; outputs: columns).
    row_tiles, col_tiles, per_tile : int
        Tiles along the inputs and the outputs, and outputs per column tile.
    row_conductance : callable
        ``row_conductance(t)``: the total conductance on each word line at read time ``t``, one
        array per row tile (the matrix computes it from its cells).
    """

    def __init__(self, in_features: int, out_features: int, row_tiles: int, col_tiles: int,
                 per_tile: int,
                 row_conductance: Callable[[float], list[np.ndarray]]) -> None:  # fmt: skip
        self._shape = (in_features, out_features, row_tiles, col_tiles, per_tile)
        self._row_conductance = row_conductance
        self._row_g: dict[float, list[np.ndarray]] = {}
        self._last_read: tuple[np.ndarray, int, float, list[np.ndarray] | None] | None = None
        self._last_stats: MVMStats | None = None

    def invalidate(self) -> None:
        """The cells changed: the word-line conductances are summed again when needed."""
        self._row_g = {}

    def remember(self, t: float, row_g: list[np.ndarray]) -> None:
        """The word-line conductances at read time ``t``, computed by the caller anyway."""
        self._row_g = {t: row_g}

    def record(self, v2_sum: np.ndarray, n_vectors: int, t: float) -> None:
        """A read of ``n_vectors`` input vectors at time ``t``; ``v2_sum`` the sum over the batch
        of the squared word-line voltages, (row tiles, tile_rows)."""
        self._last_read = (v2_sum, n_vectors, t, self._row_g.get(t))
        self._last_stats = None

    def last_stats(self, config: Any) -> MVMStats | None:
        """The estimate of the last recorded read under ``config`` (None before the first)."""
        if self._last_stats is None and self._last_read is not None:
            self._last_stats = self.estimate(config, *self._last_read)
        return self._last_stats

    def estimate(self, config: Any, v2: np.ndarray, n_b: int, t: float,
                 row_g: list[np.ndarray] | None) -> MVMStats:  # fmt: skip
        """Cells (``Σ V² G t_read``), converters and digital accumulation of a read of ``n_b``
        vectors; ``row_g`` None: the word-line conductances now."""
        c, e = config, config.energy
        in_features, out_features, row_tiles, col_tiles, per_tile = self._shape
        if row_g is None:
            if t not in self._row_g:
                self._row_g = {t: self._row_conductance(t)}
            row_g = self._row_g[t]
        cell = sum(float(v2[ri, : g.size] @ g) for ri, g in enumerate(row_g)) * e.read_pulse_s
        dac_bits = c.dac.bits or 8
        adc_bits = c.adc.bits or 8
        n_dac = n_b * in_features * col_tiles
        n_adc = n_b * out_features * row_tiles
        dac = n_dac * e.dac_energy_j * 2.0 ** (dac_bits - 8)
        adc = n_adc * e.adc_fom_j_per_step * 2.0**adc_bits
        digital = n_adc * e.digital_add_j
        per_vector = e.read_pulse_s + e.adc_time_s * int(np.ceil(per_tile / e.adcs_per_tile))
        return MVMStats(
            cell + dac + adc + digital, cell, dac, adc, digital, n_b * per_vector, n_adc
        )
