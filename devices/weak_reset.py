"""The HfOx weak-RESET device model (Majumdar et al., IEEE TED 2021) for a population of devices."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import presets as _presets
from ._kernels import PINK_BLOCK, weak_reset_code_layout_step, weak_reset_step
from ._rng import derive_key
from ._state import copy_checked, read_state, reading, write_state
from ._validation import InvalidParameterError, as_generator, check_choice, check_int, readonly
from .endurance import EnduranceCounters, WearOut
from .endurance import wear_from_dict as _wear_from_dict
from .endurance import wear_to_dict as _wear_to_dict
from .params import D2D_FIELDS, WeakResetParams, WearOutParams
from .variability import sample_weak_reset_population

__all__ = ["NOISE_MODES", "WeakResetRRAM", "kasdin_coefficients", "mean_log_resistance"]

#: Noise modes: ``"none"`` = mean model (+ D2D); ``"paper"`` = RTN and 1/f noise as in the
#: equations of docs/devices.md; ``"rtn"`` and ``"pink"`` = only one of the two (for ablations);
#: ``"code_layout"`` (alias ``"code"``) = the released code's state layout (docs/devices.md).
NOISE_MODES = ("none", "paper", "rtn", "pink", "code_layout")
_NOISE_ALIASES = {"code": "code_layout"}

_STATE_FORMAT = "crossbar-sim/weak-reset-state"
_STATE_VERSION = 2  # 2: the 1/f buffer saved newest first (1: as a ring buffer)
_INT32_MAX = np.iinfo(np.int32).max
_STREAM_FLIP, _STREAM_PINK, _STREAM_MAG, _STREAM_CODE_MAG = 0, 1, 2, 3
_OWNER = "WeakResetRRAM"


def kasdin_coefficients(taps: int) -> np.ndarray:
    """Kasdin (1995) 1/f filter coefficients ``b_0 = 1, b_k = b_{k-1} (k - 1/2) / k``."""
    b = np.ones(taps)
    for k in range(1, taps):
        b[k] = b[k - 1] * (k - 0.5) / k
    return b


def mean_log_resistance(t: np.ndarray | int, m1: Any, t_star: Any, c1: Any, m2: Any) -> np.ndarray:
    """Mean model ``w_mean(t) = ln(R/R0)`` after ``t`` pulses (0 at ``t = 0``, by convention).

    .. math::

        w(t) = m_1 t + c_1 \\;(1 \\le t < t^*), \\qquad
        w(t) = m_2 t + t^*(m_1 - m_2) + c_1 \\;(t \\ge t^*)
    """
    t = np.asarray(t, dtype=np.float64)
    m1, t_star, c1, m2 = (np.asarray(x, dtype=np.float64) for x in (m1, t_star, c1, m2))
    w = np.where(t < t_star, m1 * t + c1, m2 * t + t_star * (m1 - m2) + c1)
    return np.where(t == 0, 0.0, w)


class WeakResetRRAM:
    """A population of HfOx RRAM devices programmed by weak-RESET pulses.

    Each device starts in its low-resistance state right after a full SET (``R = R0``). Every
    weak-RESET pulse raises ``ln R`` along the device's piecewise-linear mean curve; in
    ``noise="paper"`` mode random telegraph noise and 1/f noise are added at every read:

    .. math::

        R(t) = R_0 \\exp\\big(w_\\mathrm{mean}(t) + s\\,a\\,U_1 U_2
               + \\alpha \\textstyle\\sum_{k=0}^{14} b_k h_k\\big)

    with the RTN state ``s`` a two-state Markov chain over pulses (``p_up``, ``p_down``), ``U_1,
    U_2 ~ U(0, 1)`` re-drawn at every read, and ``h_k`` the uniform sample drawn at the k-th most
    recent pulse (Majumdar et al., IEEE TED 2021, docs/devices.md).

    Parameters
    ----------
    n_devices : int
        Number of devices (>= 1).
    params : WeakResetParams or str, default ``presets.MAJUMDAR2021``
        Model parameters or the name of a preset.
    noise : {"none", "paper", "rtn", "pink", "code_layout"}, default "paper"
        ``"none"``: mean model (with D2D); ``"paper"``: RTN and 1/f noise; ``"rtn"`` / ``"pink"``:
        one of the two only; ``"code_layout"`` (alias ``"code"``): the state layout of the
        authors' released full-noise code (docs/devices.md): every call steps every device, also those
        given 0 pulses, the RTN state is read from the oldest pink sample, and previous RTN values
        enter the 1/f buffer. Provided to reproduce results made with that code.
    d2d : bool, default True
        Draw per-device parameters from the D2D distributions; False puts every device at the
        medians.
    rng : int, numpy.random.Generator or None
        Seed or generator. It draws the D2D parameters and a 64-bit key for the counter-based
        generator of the noise, so a given seed always gives the same simulation, whatever the
        number of threads.
    wear_out : WearOutParams or None, default None
        Endurance limits on writes (weak-RESET pulses + SETs); a device past its limit is stuck
        at its LRS (``R0``) or HRS (``params.hrs_ohm``). None (default): the weak-RESET model's
        only wear mechanism is the saturation of its window (docs/devices.md).

    Attributes
    ----------
    counters : EnduranceCounters
        ``"weak_reset"`` and ``"set"`` events per device.

    Notes
    -----
    Storage per device: six float32 D2D parameters, the pulse count since SET (int32), the RTN
    state (uint8), 15 uint16 1/f samples (value ``(q + 1/2) / 65536``: same mean as U(0, 1),
    variance short by a factor ``1 - 2^-32``) and two int64 counters: 75 bytes.
    Applying ``n`` pulses at once is equal in distribution to ``n`` single pulses.
    """

    def __init__(
        self,
        n_devices: int,
        params: WeakResetParams | str = _presets.MAJUMDAR2021,
        noise: str = "paper",
        d2d: bool = True,
        rng: int | np.random.Generator | None = None,
        wear_out: WearOutParams | None = None,
    ) -> None:
        self.n_devices = check_int("n_devices", n_devices, _OWNER, 1, _INT32_MAX)
        _presets.check_wear_out(wear_out, _OWNER)
        params = _presets.resolve(params, WeakResetParams, _OWNER, _presets.MAJUMDAR2021)
        self.params = params
        self.noise = check_choice(
            "noise", _NOISE_ALIASES.get(noise, noise) if isinstance(noise, str) else noise,
            NOISE_MODES, _OWNER,
        )  # fmt: skip
        if not isinstance(d2d, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'd2d' parameter of {_OWNER} must be a bool. Got {d2d!r} instead."
            )
        self.d2d = bool(d2d)
        gen = as_generator(rng, _OWNER)
        self._seed = int(gen.integers(0, 2**63, dtype=np.int64))
        draws = sample_weak_reset_population(params, self.n_devices, gen, d2d=self.d2d)
        self._d2d = {name: draws[name].astype(np.float32) for name in D2D_FIELDS}
        self._allocate_state()
        # weak-RESET pulses and SETs both count as writes; None: no endurance limit
        self.wear = None if wear_out is None else WearOut(self.n_devices, wear_out, gen)

    def _allocate_state(self) -> None:
        n = self.n_devices
        self._t = np.zeros(n, dtype=np.int32)
        taps = self.params.pink_taps
        code = self.noise == "code_layout"
        self._s = np.zeros(0 if code else n, dtype=np.uint8)
        # the 1/f samples by blocks of devices, one row per age (see devices._kernels)
        blocks = 0 if code else -(-n // PINK_BLOCK)
        self._h = np.zeros((blocks, taps, PINK_BLOCK), dtype=np.uint16)
        self._phase = np.zeros(blocks, dtype=np.int64)  # row of the newest sample, per block
        # code_layout: the released code's delay line [RTN value, 15 pink samples] per device
        self._line = np.zeros((n, taps + 1) if code else (0, taps + 1), dtype=np.float32)
        self.counters = EnduranceCounters(n, ("weak_reset", "set"))
        self._apply_calls = 0
        self._read_calls = 0
        self._t_bound = 0  # upper bound on max(t), to refuse int32 overflow without a pass
        self._t_floor = 0  # lower bound on min(t): every 1/f age filled once it reaches taps
        # code_layout: float coefficients alpha * b_k; otherwise the exact integer form of the
        # kernel: b_k * 4**(taps - 1) = C(2k, k) * 4**(taps - 1 - k)
        self._pink_coef = kasdin_coefficients(taps) * self.params.pink_alpha
        b_int = [math.comb(2 * k, k) * 4 ** (taps - 1 - k) for k in range(taps)]
        self._pink_w = np.array(b_int, dtype=np.float64)  # exact: integers below 2**53
        self._pink_scale = self.params.pink_alpha / 65536.0 / 4.0 ** (taps - 1)

    # -- public state -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.n_devices

    def __repr__(self) -> str:
        return (
            f"WeakResetRRAM(n_devices={self.n_devices}, params={self.params.name!r}, "
            f"noise={self.noise!r}, d2d={self.d2d})"
        )

    @property
    def use_rtn(self) -> bool:
        """Whether random telegraph noise is simulated."""
        return self.noise in ("paper", "rtn", "code_layout")

    @property
    def use_pink(self) -> bool:
        """Whether 1/f noise is simulated."""
        return self.noise in ("paper", "pink", "code_layout")

    @property
    def d2d_parameters(self) -> dict[str, np.ndarray]:
        """Per-device parameters (read-only float32 views), keyed by the names of D2D_FIELDS."""
        return {name: readonly(arr) for name, arr in self._d2d.items()}

    @property
    def pulses_since_set(self) -> np.ndarray:
        """Weak-RESET pulses since the last full SET (the model's ``t``), read-only."""
        return readonly(self._t)

    @property
    def rtn_state(self) -> np.ndarray:
        """RTN trap state ``s`` (0 or 1) per device, read-only.

        In ``"code_layout"`` mode: 1 where the current RTN value is non-zero.
        """
        if self.noise == "code_layout":
            return (self._line[:, 0] > 0).astype(np.uint8)
        return readonly(self._s)

    @property
    def pulse_count(self) -> np.ndarray:
        """Programming pulses received per device since creation (weak-RESET + SET)."""
        return self.counters.pulse_count

    @property
    def weak_reset_count(self) -> np.ndarray:
        """Weak-RESET pulses received per device since creation."""
        return self.counters["weak_reset"]

    @property
    def set_count(self) -> np.ndarray:
        """Full SET events per device since creation."""
        return self.counters["set"]

    @property
    def extrapolating(self) -> np.ndarray:
        """Devices past the fitted range (``t > params.fit_max_pulses``), where ln R is extrapolated."""
        return self._t > self.params.fit_max_pulses

    def pink_samples(self) -> np.ndarray:
        """The 1/f buffer as values in (0, 1), newest first, 0 where no pulse has filled it yet."""
        taps = self.params.pink_taps
        if not self.use_pink:
            return np.zeros((self.n_devices, taps))
        if self.noise == "code_layout":
            return self._line[:, 1:].astype(np.float64)
        ages = np.arange(taps)
        values = (self._pink_codes() + 0.5) / 65536.0
        return np.where(ages[None, :] < self._t[:, None], values, 0.0)

    def _pink_codes(self) -> np.ndarray:
        """The 1/f buffer's integer samples, (n_devices, taps), newest first."""
        taps = self.params.pink_taps
        rows = (self._phase[:, None] + np.arange(taps)[None, :]) % taps  # (blocks, ages)
        by_age = np.take_along_axis(self._h, rows[:, :, None], axis=1)
        return by_age.transpose(0, 2, 1).reshape(-1, taps)[: self.n_devices]

    def _set_pink_codes(self, codes: np.ndarray) -> None:
        n, taps = self.n_devices, self.params.pink_taps
        padded = np.zeros((self._h.shape[0] * PINK_BLOCK, taps), dtype=np.uint16)
        padded[:n] = codes
        self._h[...] = padded.reshape(-1, PINK_BLOCK, taps).transpose(0, 2, 1)
        self._phase[...] = 0

    # -- dynamics ---------------------------------------------------------------------------------
    def apply_pulses(self, n: int | np.ndarray) -> None:
        """Apply ``n`` weak-RESET pulses (an int, or one non-negative int per device)."""
        self._run(n, read=False, out=None)

    def resistance(self, out: np.ndarray | None = None) -> np.ndarray:
        """Read every device's resistance (ohm); RTN amplitudes are re-drawn at every read.

        Parameters
        ----------
        out : ndarray, optional
            float64 array of shape ``(n_devices,)`` to write into (saves an allocation).
        """
        return self._run(None, read=True, out=out)

    def conductance(self, out: np.ndarray | None = None) -> np.ndarray:
        """Read every device's conductance ``1/R`` (siemens); see :meth:`resistance`."""
        r = self._run(None, read=True, out=out)
        np.reciprocal(r, out=r)
        return r

    def pulse_and_read(self, n: int | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Apply ``n`` pulses and read R in one pass over memory.

        Bit-identical to ``apply_pulses(n)`` followed by ``resistance()``, at about half the
        memory traffic.
        """
        return self._run(n, read=True, out=out)

    def full_set(self, devices: np.ndarray | None = None) -> None:
        """Full SET: return devices to their LRS (``t = 0``, ``R = R0``, RTN and 1/f state cleared).

        Counted as one ``"set"`` event per device.

        Parameters
        ----------
        devices : array of bool (mask) or int (indices), optional
            Devices to SET; all if omitted.
        """
        index: Any = slice(None) if devices is None else self._check_index(devices)
        self._t[index] = 0
        if self.noise == "code_layout":
            self._line[index] = 0
        else:
            self._s[index] = 0
            if devices is None:
                self._h[...] = 0
            else:
                cells = np.arange(self.n_devices)[index]
                self._h[cells[:, None] // PINK_BLOCK, np.arange(self.params.pink_taps),
                        (cells % PINK_BLOCK)[:, None]] = 0  # fmt: skip
        self.counters.add("set", index, 1)
        self._t_floor = 0
        if devices is None:
            self._t_bound = 0
        self._update_wear(False, _EMPTY_F64)

    @property
    def failed(self) -> np.ndarray:
        """Worn-out devices (all False without wear-out), read-only."""
        if self.wear is None:
            return np.zeros(self.n_devices, dtype=np.bool_)
        return readonly(self.wear.failed)

    def _update_wear(self, read: bool, out: np.ndarray) -> None:
        wear = self.wear
        if wear is None:
            return
        np.logical_or(wear.failed, self.pulse_count > wear.limit, out=wear.failed)
        if read and wear.failed.any():
            idx = np.flatnonzero(wear.failed)
            stuck = np.where(
                wear.stuck_lrs_on_failure[idx], self._d2d["r0_ohm"][idx], self.params.hrs_ohm
            )
            out[idx] = stuck

    def _run(self, n: Any, read: bool, out: np.ndarray | None) -> np.ndarray:
        out = self._run_kernels(n, read, out)
        self._update_wear(read, out)
        return out

    def _run_kernels(self, n: Any, read: bool, out: np.ndarray | None) -> np.ndarray:
        apply = n is not None
        n_scalar, n_arr = (0, _EMPTY_I64)
        if apply:
            n_scalar, n_arr, n_max = self._check_pulses(n)
            if self._t_bound + n_max > _INT32_MAX:
                raise InvalidParameterError(
                    f"The 'n' parameter of {_OWNER}.apply_pulses would take the pulse count past "
                    f"{_INT32_MAX} (int32); apply a full SET first."
                )
            self._t_bound += n_max
            self._t_floor += n_scalar if n_arr.size == 0 else int(n_arr.min())
        if read:
            out = self._check_out(out)
        else:
            out = _EMPTY_F64
        p = self.params
        d = self._d2d
        if self.noise == "code_layout":
            if apply:
                self._apply_calls += 1
            if read:
                self._read_calls += 1
            weak_reset_code_layout_step(
                apply, n_scalar, n_arr, read, out,
                d["m1_per_pulse"], d["t_star_pulses"], d["c1"], d["m2_per_pulse"], d["r0_ohm"],
                d["rtn_amplitude"],
                self._t, self._line, self.counters.array("weak_reset"),
                derive_key(self._seed, _STREAM_FLIP, self._apply_calls - 1),
                derive_key(self._seed, _STREAM_PINK, self._apply_calls - 1),
                derive_key(self._seed, _STREAM_CODE_MAG, self._apply_calls - 1),
                p.rtn_p_up_per_pulse, p.rtn_p_down_per_pulse, self._pink_coef,
            )  # fmt: skip
            return out
        lam_n = (1.0 - p.rtn_p_up_per_pulse - p.rtn_p_down_per_pulse) ** n_scalar
        total = p.rtn_p_up_per_pulse + p.rtn_p_down_per_pulse
        p01 = p.rtn_p_up_per_pulse / total * (1.0 - lam_n) if total > 0 else 0.0
        p10 = p.rtn_p_down_per_pulse / total * (1.0 - lam_n) if total > 0 else 0.0
        weak_reset_step(
            apply, n_scalar, n_arr, read, out,
            d["m1_per_pulse"], d["t_star_pulses"], d["c1"], d["m2_per_pulse"], d["r0_ohm"],
            d["rtn_amplitude"],
            self._t, self._s, self._h, self._phase, self.counters.array("weak_reset"),
            derive_key(self._seed, _STREAM_FLIP, self._apply_calls),
            derive_key(self._seed, _STREAM_PINK, self._apply_calls),
            derive_key(self._seed, _STREAM_MAG, self._read_calls),
            p01, p10, p.rtn_p_up_per_pulse, p.rtn_p_down_per_pulse,
            self.use_rtn, self.use_pink, self._pink_w, self._pink_scale,
            self._t_floor >= p.pink_taps,
        )  # fmt: skip
        if apply:
            self._apply_calls += 1
        if read:
            self._read_calls += 1
        return out

    # -- validation -------------------------------------------------------------------------------
    def _check_pulses(self, n: Any) -> tuple[int, np.ndarray, int]:
        where = f"The 'n' parameter of {_OWNER}.apply_pulses"
        if np.ndim(n) == 0:
            value = n.item() if isinstance(n, np.generic) else n
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidParameterError(
                    f"{where} must be a non-negative integer or an integer array of shape "
                    f"({self.n_devices},). Got {n!r} instead."
                )
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise InvalidParameterError(
                    f"{where} must be a non-negative integer. Got {n!r} instead."
                )
            value = int(value)
            if value < 0 or value > _INT32_MAX:
                raise InvalidParameterError(
                    f"{where} must be a non-negative integer <= {_INT32_MAX}. Got {value} instead."
                )
            return value, _EMPTY_I64, value
        arr = np.asarray(n)
        if arr.shape != (self.n_devices,):
            raise InvalidParameterError(
                f"{where} must be an int or an array of shape ({self.n_devices},). "
                f"Got an array of shape {arr.shape} instead."
            )
        if arr.dtype.kind == "f":
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
            if bad.any():
                i = int(np.argmax(bad))
                raise InvalidParameterError(
                    f"{where} must hold non-negative integers. Got {arr[i].item()!r} at index {i} "
                    "instead."
                )
        elif arr.dtype.kind not in "iu":
            raise InvalidParameterError(
                f"{where} must be an integer array. Got dtype {arr.dtype} instead."
            )
        if arr.size and (arr.min() < 0 or arr.max() > _INT32_MAX):
            i = int(np.argmax((arr < 0) | (arr > _INT32_MAX)))
            raise InvalidParameterError(
                f"{where} must hold integers in [0, {_INT32_MAX}]. Got {arr[i].item()!r} at index "
                f"{i} instead."
            )
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        return 0, arr, int(arr.max()) if arr.size else 0

    def _check_out(self, out: np.ndarray | None) -> np.ndarray:
        if out is None:
            return np.empty(self.n_devices, dtype=np.float64)
        if (
            not isinstance(out, np.ndarray)
            or out.dtype != np.float64
            or out.shape != (self.n_devices,)
            or not out.flags.c_contiguous
            or not out.flags.writeable
        ):
            raise InvalidParameterError(
                f"The 'out' parameter of {_OWNER} must be a writeable contiguous float64 array of "
                f"shape ({self.n_devices},). Got {_describe(out)} instead."
            )
        return out

    def _check_index(self, devices: Any) -> np.ndarray:
        arr = np.asarray(devices)
        where = f"The 'devices' parameter of {_OWNER}.full_set"
        if arr.dtype == np.bool_:
            if arr.shape != (self.n_devices,):
                raise InvalidParameterError(
                    f"{where} must be a bool mask of shape ({self.n_devices},) or integer indices. "
                    f"Got a bool array of shape {arr.shape} instead."
                )
            return arr
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise InvalidParameterError(
                f"{where} must be a bool mask of shape ({self.n_devices},) or a 1-D integer array. "
                f"Got {_describe(devices)} instead."
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_devices):
            raise InvalidParameterError(
                f"{where} must hold indices in [0, {self.n_devices - 1}]. "
                f"Got values in [{arr.min()}, {arr.max()}] instead."
            )
        return arr

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the complete state (parameters, noise state, RNG counters, counters) to ``path``.

        The file is an ``.npz`` archive (written to exactly ``path``) of plain arrays plus a JSON
        header; it is read without pickle, and a loaded population continues bit-identically.
        """
        meta = {
            "n_devices": self.n_devices,
            "noise": self.noise,
            "d2d": self.d2d,
            "seed": str(self._seed),
            "apply_calls": self._apply_calls,
            "read_calls": self._read_calls,
            "t_bound": self._t_bound,
            "params": {"model": "weak-reset", **self.params.to_dict()},
            "wear_out": None if self.wear is None else _wear_to_dict(self.wear.params),
        }
        arrays = {
            **({} if self.wear is None else self.wear.to_arrays()),
            **{f"d2d_{k}": v for k, v in self._d2d.items()},
            "t": self._t,
            "s": self._s,
            "h": self._pink_codes(),  # (n_devices, taps), newest first
            "line": self._line,
            **self.counters.to_arrays(),
        }
        write_state(path, _STATE_FORMAT, _STATE_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WeakResetRRAM:
        """Load a population saved by :meth:`save`."""
        arrays, meta = read_state(path, _STATE_FORMAT, (1, _STATE_VERSION))
        with reading(path):
            return cls._from_saved(path, arrays, meta)

    @classmethod
    def _from_saved(cls, path: Any, arrays: dict[str, np.ndarray],
                    meta: dict[str, Any]) -> WeakResetRRAM:  # fmt: skip
        self = cls.__new__(cls)
        self.n_devices = int(meta["n_devices"])
        self.params = _presets.from_dict(
            {"version": _presets.FORMAT_VERSION, **meta["params"]}, str(path)
        )
        self.noise = check_choice("noise", meta["noise"], NOISE_MODES, _OWNER)
        self.d2d = bool(meta["d2d"])
        self._seed = int(meta["seed"])
        self._allocate_state()
        self._d2d = {k: np.zeros(self.n_devices, dtype=np.float32) for k in D2D_FIELDS}
        for k in D2D_FIELDS:
            copy_checked(path, arrays, f"d2d_{k}", self._d2d[k], finite=True)
        for key, target in (("t", self._t), ("s", self._s), ("line", self._line)):
            copy_checked(path, arrays, key, target)
        if self.noise != "code_layout":
            codes = np.zeros((self.n_devices, self.params.pink_taps), dtype=np.uint16)
            if int(meta["version"]) == 1:  # a ring buffer: slot (t - 1 - age) % taps, 16 wide
                ring = np.zeros((self.n_devices, 16), dtype=np.uint16)
                copy_checked(path, arrays, "h", ring)
                taps = self.params.pink_taps
                slots = (self._t[:, None].astype(np.int64) - 1 - np.arange(taps)) % taps
                codes = np.take_along_axis(ring[:, :taps], slots, axis=1)
                codes[np.arange(taps)[None, :] >= self._t[:, None]] = 0
            else:
                copy_checked(path, arrays, "h", codes)
            self._set_pink_codes(codes)
        self.counters.load_arrays(arrays)
        wear = meta.get("wear_out")
        self.wear = None
        if wear is not None:
            self.wear = WearOut(self.n_devices, _wear_from_dict(wear), np.random.default_rng(0))
            self.wear.load_arrays(arrays)
        self._apply_calls = int(meta["apply_calls"])
        self._read_calls = int(meta["read_calls"])
        self._t_bound = int(meta["t_bound"])
        self._t_floor = int(self._t.min()) if self.n_devices else 0
        return self


_EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_F64 = np.empty(0, dtype=np.float64)


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return repr(x)
