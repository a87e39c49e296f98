"""Multi-level programming statistics: per-level spread, the sigma(G) law, relaxation vs time.

Input: the long multi-level layout of docs/calibration.md — ``device_id, level, conductance_s`` plus
optional ``time_s`` (after programming) and ``iteration``. For every level and read time the
conductances give a mean and a standard deviation. Relaxation is what the spread gains after the
earliest read: ``sigma_rel^2(G, t) = sigma^2(t) - sigma^2(t0)`` (read noise and the
program-and-verify window are in both and cancel), fitted by least squares to the model of
:class:`devices.MultiLevelParams`,
``sigma_rel(G, t) = sigma_relax_s * sqrt(g_max / G) * max(0, 1 + growth * log10(t / 60 s))``.
The spread after verify gives ``sigma0(G)`` per level and its power law ``sigma0 ~ G^p``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from devices import InvalidParameterError, presets
from devices.params import MultiLevelParams

from .io import (
    CSVFormatError,
    _integer,
    _number,
    _parse_columns,
    misspelt,
    reader_of,
    rows,
    unknown_columns,
)

__all__ = ["MultiLevelData", "MultiLevelFit", "fit_multilevel", "load_multilevel"]

_COLUMNS = ("device_id", "level", "conductance_s", "time_s", "iteration")


@dataclass
class MultiLevelData:
    """Multi-level reads: one entry per (device, level, time, iteration)."""

    device: np.ndarray
    level: np.ndarray
    conductance_s: np.ndarray
    time_s: np.ndarray
    iteration: np.ndarray
    source: str
    ignored_columns: tuple[str, ...] = ()


def load_multilevel(
    path: str | os.PathLike[str], columns: Any = None, strict: bool = False
) -> MultiLevelData:
    """Load the multi-level layout; errors name file, line and column (``CSVFormatError``).

    The same leniency as :func:`calibration.io.load_pulse_trains`: delimiters sniffed, columns it
    does not know ignored (``ignored_columns``) unless ``strict``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CSVFormatError(path, 0, None, "no such file")
    rename = _parse_columns(columns)
    names: dict[str, int] = {}
    device, level, iteration = array("i"), array("i"), array("i")
    g, t = array("d"), array("d")
    seen: dict[tuple[int, float, int], int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = reader_of(path, fh)
        try:
            header = [rename.get(h.strip().lower(), h.strip().lower())
                      for h in next(rows(path, reader))]  # fmt: skip
        except StopIteration:
            raise CSVFormatError(path, 1, None, "empty file (a header is required)") from None
        ignored = unknown_columns(path, header, _COLUMNS, strict)
        dupes = [n for n, c in Counter(header).items() if c > 1 and n not in ignored]
        if dupes:
            raise CSVFormatError(path, 1, dupes[0], "column appears twice")
        misspelt(path, header, ignored,
                 [n for n in ("device_id", "level", "conductance_s") if n not in header])  # fmt: skip
        for name in ("device_id", "level", "conductance_s"):
            if name not in header:
                raise CSVFormatError(path, 1, name, "missing required column")
        col = {n: k for k, n in enumerate(header)}
        for row in rows(path, reader):
            line = reader.line_num
            if not row or all(not f.strip() for f in row):
                continue
            if len(row) != len(header):
                raise CSVFormatError(
                    path, line, None, f"{len(row)} fields, the header has {len(header)}"
                )
            f = [x.strip() for x in row]
            if not f[col["device_id"]]:
                raise CSVFormatError(path, line, "device_id", "empty device id")
            lv = _integer(path, line, "level", f[col["level"]])
            gv = _number(path, line, "conductance_s", f[col["conductance_s"]])
            if gv <= 0:
                raise CSVFormatError(path, line, "conductance_s", f"must be > 0, got {gv!r}")
            tv = _number(path, line, "time_s", f[col["time_s"]]) if "time_s" in col else 0.0
            if tv < 0:
                raise CSVFormatError(path, line, "time_s", f"must be >= 0, got {tv!r}")
            it = _integer(path, line, "iteration", f[col["iteration"]]) if "iteration" in col else 0
            d = names.setdefault(f[col["device_id"]], len(names))
            key = (d, tv, it)
            if key in seen:
                raise CSVFormatError(path, line, "device_id",
                                     f"duplicate read of this device at this time (also line {seen[key]})")  # fmt: skip
            seen[key] = line
            device.append(d)
            level.append(lv)
            g.append(gv)
            t.append(tv)
            iteration.append(it)
    if len(g) == 0:
        raise CSVFormatError(path, 2, None, "no data rows")
    return MultiLevelData(np.frombuffer(device, dtype=np.int32), np.frombuffer(level, dtype=np.int32),
                          np.frombuffer(g, dtype=np.float64), np.frombuffer(t, dtype=np.float64),
                          np.frombuffer(iteration, dtype=np.int32), path, ignored)  # fmt: skip


@dataclass
class MultiLevelFit:
    """Per-level statistics and the fitted parameters."""

    levels: np.ndarray
    times_s: np.ndarray
    mean_s: np.ndarray  # (levels, times)
    sd_s: np.ndarray  # (levels, times)
    params: MultiLevelParams
    sigma0_exponent: float
    relaxation_fitted: bool = True
    outliers: int = 0
    base_name: str = ""

    def report(self) -> str:
        lines = [f"multi-level fit: {self.levels.size} levels, reads at t = "
                 + ", ".join(f"{t:g} s" for t in self.times_s)]  # fmt: skip
        head = "  ".join(f"{'sd@' + format(t, 'g') + 's':>11}" for t in self.times_s)
        lines.append(f"{'level':>5} {'mean uS':>9}  {head}")
        for k, lv in enumerate(self.levels):
            sds = "  ".join(f"{s * 1e6:>11.3f}" for s in self.sd_s[k])
            lines.append(f"{lv:>5} {self.mean_s[k, 0] * 1e6:>9.2f}  {sds}")
        p = self.params
        law = (f"sigma_relax {p.sigma_relax_s * 1e6:.3f} uS at g_max and {p.relax_reference_s:g} "
               f"s, growth {p.relax_log_growth:.3f} per decade")  # fmt: skip
        if self.relaxation_fitted:
            lines.append(f"relaxation: {law}; spread after the first read ~ "
                         f"G^{self.sigma0_exponent:.2f}")  # fmt: skip
        else:
            lines.append(f"relaxation: NOT FITTED (no spread measured at a later read time); "
                         f"kept from {self.base_name}: {law}")  # fmt: skip
        if self.outliers:
            lines.append(f"{self.outliers} read(s) set aside (> {OUTLIER_SDS:g} robust SDs from "
                         "their level and time)")  # fmt: skip
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record of the fit (stored under ``"fit"`` in the parameter file)."""
        return {"relaxation_fitted": self.relaxation_fitted, "outlier_reads": self.outliers,
                "levels": int(self.levels.size),
                "times_s": [float(t) for t in self.times_s],
                "sigma0_exponent": self.sigma0_exponent
                if math.isfinite(self.sigma0_exponent) else None}  # fmt: skip


#: A read further than this many robust standard deviations from its (level, time) group's
#: median is set aside (a stuck, open or mis-recorded cell).
OUTLIER_SDS = 8.0


def _inliers(g: np.ndarray) -> np.ndarray:
    centre = np.median(g)
    mad = 1.4826 * np.median(np.abs(g - centre))
    if g.size < 3 or mad == 0:
        return np.ones(g.size, dtype=bool)
    return np.abs(g - centre) <= OUTLIER_SDS * mad


def fit_multilevel(data: MultiLevelData, base: MultiLevelParams | None = None) -> MultiLevelFit:
    """Per-level mean and spread per read time, the sigma(G) law and the relaxation parameters.

    ``base`` supplies the parameters the data do not determine (default ``CEA_LETI_130NM``):
    always the programming constants, and the relaxation law when the file holds reads at a
    single time (``relaxation_fitted`` False, said in the report). Reads more than
    :data:`OUTLIER_SDS` robust SDs from their (level, time) group are set aside and counted.
    """
    if not isinstance(data, MultiLevelData):
        raise InvalidParameterError("fit_multilevel needs MultiLevelData (calibration.multilevel).")
    base = base or presets.CEA_LETI_130NM
    levels = np.unique(data.level)
    times = np.unique(data.time_s)
    if levels.size < 2:
        raise InvalidParameterError(f"need reads of at least 2 levels, got {levels.size}")
    mean = np.full((levels.size, times.size), np.nan)
    sd = np.full((levels.size, times.size), np.nan)
    outliers = 0
    for a, lv in enumerate(levels):
        for b, t in enumerate(times):
            g = data.conductance_s[(data.level == lv) & (data.time_s == t)]
            if g.size == 0:
                continue
            keep = _inliers(g)
            outliers += int((~keep).sum())
            g = g[keep]
            mean[a, b] = g.mean()
            if g.size >= 2:
                sd[a, b] = g.std(ddof=1)
    if not np.isfinite(sd).any():
        raise InvalidParameterError(
            "every (level, read time) has a single read: the spread of a level needs at least 2 "
            "cells (or 2 reads) per level and time"
        )
    # each level's conductance: its mean at its earliest read
    first = np.array([row[np.isfinite(row)][0] for row in mean])
    first_sd = np.array([row[np.isfinite(row)][0] if np.isfinite(row).any() else np.nan
                         for row in sd])  # fmt: skip
    g_min, g_max = float(first.min()), float(first.max())
    if not (0 < g_min < g_max and math.isfinite(g_max)):
        raise InvalidParameterError(
            f"the levels' conductances must be distinct, positive and finite; got "
            f"{g_min!r} to {g_max!r} S"
        )
    ok = np.isfinite(first_sd) & (first_sd > 0)
    exponent = (
        float(np.polyfit(np.log(first[ok]), np.log(first_sd[ok]), 1)[0])
        if ok.sum() >= 2 else math.nan
    )  # fmt: skip
    sigma_relax, growth = base.sigma_relax_s, base.relax_log_growth
    later = [b for b in range(1, times.size) if times[b] > 0]
    rows = [(first[a], times[b], sd[a, b] ** 2 - sd[a, 0] ** 2)
            for a in range(levels.size) for b in later
            if np.isfinite(sd[a, b]) and np.isfinite(sd[a, 0])]  # fmt: skip
    fitted = False
    if len(rows) >= 2:
        gg, tt, var = (np.array(x) for x in zip(*rows, strict=True))

        def resid(theta: np.ndarray) -> np.ndarray:
            shape = np.maximum(0.0, 1 + theta[1] * np.log10(tt / base.relax_reference_s))
            model = (theta[0] * np.sqrt(g_max / gg) * shape) ** 2
            return (model - var) / np.maximum(np.abs(var).mean(), 1e-30)

        try:
            sol = least_squares(resid, x0=[max(base.sigma_relax_s, 1e-9), base.relax_log_growth],
                                bounds=([0.0, 0.0], [np.inf, 10.0]))  # fmt: skip
        except (ValueError, FloatingPointError):
            sol = None
        if sol is not None and np.all(np.isfinite(sol.x)):
            sigma_relax, growth, fitted = float(sol.x[0]), float(sol.x[1]), True
    params = dataclasses.replace(
        base, g_min_s=g_min, g_max_s=g_max, sigma_relax_s=sigma_relax, relax_log_growth=growth,
        name="fitted", citation=f"fitted with calibration.fit_multilevel on {data.source}",
    )  # fmt: skip
    return MultiLevelFit(levels, times, mean, sd, params, exponent, fitted, outliers, base.name)
