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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from devices import InvalidParameterError, presets
from devices.params import MultiLevelParams
from devices.support import check_int

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
from .population import CONFIDENCE, interval

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
    #: 90 % bootstrap intervals over devices: sigma_relax_s, relax_log_growth, sigma0_exponent
    intervals: dict[str, list[float]] = field(default_factory=dict)

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
            iv = self.intervals
            if "sigma_relax_s" in iv:
                lines.append(f"  90 % intervals over devices: sigma_relax [{iv['sigma_relax_s'][0] * 1e6:.3f}, "
                             f"{iv['sigma_relax_s'][1] * 1e6:.3f}] uS, growth "
                             f"[{iv['relax_log_growth'][0]:.3f}, {iv['relax_log_growth'][1]:.3f}]")  # fmt: skip
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
                if math.isfinite(self.sigma0_exponent) else None,
                "intervals": self.intervals, "confidence": CONFIDENCE}  # fmt: skip


#: A read further than this many robust standard deviations from its (level, time) group's
#: median is set aside (a stuck, open or mis-recorded cell).
OUTLIER_SDS = 8.0


def _inliers(g: np.ndarray) -> np.ndarray:
    centre = np.median(g)
    mad = 1.4826 * np.median(np.abs(g - centre))
    if g.size < 3 or mad == 0:
        return np.ones(g.size, dtype=bool)
    return np.abs(g - centre) <= OUTLIER_SDS * mad


def _group_stats(g: np.ndarray, group: np.ndarray, w: np.ndarray, n_groups: int
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Weighted mean and (frequency-weighted, ddof 1) SD of ``g`` per group; NaN where a group
    has no read (mean) or fewer than two (SD). ``w``: how often each read counts."""
    n = np.bincount(group, weights=w, minlength=n_groups)
    total = np.bincount(group, weights=w * g, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        dev = g - mean[group]
        ss = np.bincount(group, weights=w * dev * dev, minlength=n_groups)
        sd = np.where(n >= 2, np.sqrt(ss / (n - 1)), np.nan)
    # a spread beyond a float (absurd conductances) is no measurement
    return mean, np.where(np.isfinite(sd), sd, np.nan)


def _relaxation(first: np.ndarray, sd: np.ndarray, times: np.ndarray, g_max: float,
                base: MultiLevelParams) -> tuple[float, float] | None:  # fmt: skip
    """Least squares of the relaxation law on the spread each level gains after its first
    read (module docstring); None when the data hold no later spread."""
    later = [b for b in range(1, times.size) if times[b] > 0]
    rows = [(first[a], times[b], sd[a, b] ** 2 - sd[a, 0] ** 2)
            for a in range(first.size) for b in later
            if np.isfinite(sd[a, b]) and np.isfinite(sd[a, 0])]  # fmt: skip
    if len(rows) < 2:
        return None
    gg, tt, var = (np.array(x) for x in zip(*rows, strict=True))

    def resid(theta: np.ndarray) -> np.ndarray:
        shape = np.maximum(0.0, 1 + theta[1] * np.log10(tt / base.relax_reference_s))
        model = (theta[0] * np.sqrt(g_max / gg) * shape) ** 2
        return (model - var) / np.maximum(np.abs(var).mean(), 1e-30)

    try:
        sol = least_squares(resid, x0=[max(base.sigma_relax_s, 1e-9), base.relax_log_growth],
                            bounds=([0.0, 0.0], [np.inf, 10.0]))  # fmt: skip
    except (ValueError, FloatingPointError):
        return None
    return (float(sol.x[0]), float(sol.x[1])) if np.all(np.isfinite(sol.x)) else None


def _first(table: np.ndarray) -> np.ndarray:
    """Each level's value at its earliest read time with a value (NaN if none)."""
    return np.array([row[np.isfinite(row)][0] if np.isfinite(row).any() else np.nan
                     for row in table])  # fmt: skip


def _exponent(first: np.ndarray, first_sd: np.ndarray) -> float:
    ok = np.isfinite(first_sd) & (first_sd > 0) & np.isfinite(first) & (first > 0)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(first[ok]), np.log(first_sd[ok]), 1)[0])


def fit_multilevel(
    data: MultiLevelData,
    base: MultiLevelParams | None = None,
    bootstrap: int = 200,
    rng: int | np.random.Generator | None = 0,
) -> MultiLevelFit:
    """Per-level mean and spread per read time, the sigma(G) law and the relaxation parameters.

    ``base`` supplies the parameters the data do not determine (default ``CEA_LETI_130NM``):
    always the programming constants, and the relaxation law when the file holds reads at a
    single time (``relaxation_fitted`` False, said in the report). Reads more than
    :data:`OUTLIER_SDS` robust SDs from their (level, time) group are set aside and counted.
    ``bootstrap`` resamples over the devices (seeded by ``rng``) give 90 % intervals of the
    relaxation parameters and the spread exponent (0: none).
    """
    if not isinstance(data, MultiLevelData):
        raise InvalidParameterError("fit_multilevel needs MultiLevelData (calibration.multilevel).")
    bootstrap = check_int("bootstrap", bootstrap, "fit_multilevel", 0, 100_000)
    base = base or presets.CEA_LETI_130NM
    levels, level_idx = np.unique(data.level, return_inverse=True)
    times, time_idx = np.unique(data.time_s, return_inverse=True)
    if levels.size < 2:
        raise InvalidParameterError(f"need reads of at least 2 levels, got {levels.size}")
    shape = (levels.size, times.size)
    group = (level_idx * times.size + time_idx).astype(np.int64)
    keep = np.ones(group.size, dtype=bool)
    order = np.argsort(group, kind="stable")
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    for rows_ in np.split(order, cuts):
        keep[rows_] = _inliers(data.conductance_s[rows_])
    outliers = int((~keep).sum())
    g, grp, dev = data.conductance_s[keep], group[keep], data.device[keep]
    ones = np.ones(g.size)
    mean, sd = (x.reshape(shape) for x in _group_stats(g, grp, ones, levels.size * times.size))
    if not np.isfinite(sd).any():
        raise InvalidParameterError(
            "every (level, read time) has a single read: the spread of a level needs at least 2 "
            "cells (or 2 reads) per level and time"
        )
    first = _first(mean)
    g_min, g_max = float(np.nanmin(first)), float(np.nanmax(first))
    if not (0 < g_min < g_max and math.isfinite(g_max)):
        raise InvalidParameterError(
            f"the levels' conductances must be distinct, positive and finite; got "
            f"{g_min!r} to {g_max!r} S"
        )
    exponent = _exponent(first, _first(sd))
    relax = _relaxation(first, sd, times, g_max, base)
    fitted = relax is not None
    sigma_relax, growth = relax if relax is not None else (base.sigma_relax_s,
                                                          base.relax_log_growth)  # fmt: skip
    intervals: dict[str, list[float]] = {}
    n_dev = int(dev.max()) + 1 if dev.size else 0
    if bootstrap and n_dev >= 2:
        gen = np.random.default_rng(rng)
        draws = []
        for _ in range(bootstrap):
            w = np.bincount(gen.integers(0, n_dev, n_dev), minlength=n_dev)[dev].astype(float)
            m, s_ = (x.reshape(shape) for x in _group_stats(g, grp, w, levels.size * times.size))
            f = _first(m)
            r = _relaxation(f, s_, times, float(np.nanmax(f)), base) if fitted else None
            draws.append([*(r if r is not None else (math.nan, math.nan)),
                          _exponent(f, _first(s_))])  # fmt: skip
        arr = np.array(draws)
        names = ("sigma_relax_s", "relax_log_growth", "sigma0_exponent")
        for k, name in enumerate(names):
            bounds = interval(arr[:, k], CONFIDENCE)
            if np.isfinite(bounds).all():
                intervals[name] = bounds
    params = dataclasses.replace(
        base, g_min_s=g_min, g_max_s=g_max, sigma_relax_s=sigma_relax, relax_log_growth=growth,
        name="fitted", citation=f"fitted with calibration.fit_multilevel on {data.source}",
    )  # fmt: skip
    return MultiLevelFit(levels, times, mean, sd, params, exponent, fitted, outliers, base.name,
                         intervals)  # fmt: skip
