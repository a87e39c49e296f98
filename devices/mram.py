"""Binary spin-transfer-torque MRAM: write error rate, write energy, and a bit array with errors."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import presets as _presets
from ._jit import jit_parallel, prange
from ._rng import derive_key, uniform
from ._state import copy_checked, read_state, reading, write_state
from ._validation import InvalidParameterError, as_generator, check_int, check_real, readonly
from .endurance import EnduranceCounters, WearOut, wear_from_dict, wear_to_dict
from .params import STTMRAMParams, WearOutParams

__all__ = ["STTMRAM", "pulse_for_wer", "write_energy_j", "write_error_rate"]

_OWNER = "STTMRAM"
_STREAM_WRITE = 20
_STATE_FORMAT = "crossbar-sim/sttmram-state"
_STATE_VERSION = 1


def _params(params: STTMRAMParams | str | None) -> STTMRAMParams:
    return _presets.resolve(params, STTMRAMParams, "STTMRAM", _presets.HIRTZLIN2019_STTMRAM)


def _non_negative(name: str, value: Any, owner: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be finite and >= 0. Got {value!r} instead."
        )
    return arr


def write_error_rate(
    current_ua: Any, duration_ns: Any, params: STTMRAMParams | str | None = None
) -> np.ndarray:
    """Probability that a write pulse leaves the bit unswitched (docs/devices.md).

    Precessional regime (``I > I_c0``):
    ``1 - exp(-(pi^2 Delta / 4) exp(-2 (I/I_c0 - 1) t_p / tau_D))``; thermal regime
    (``I <= I_c0``): ``exp(-t_p / tau)`` with ``tau = tau_0 exp(Delta (1 - I/I_c0))``.
    Broadcasts over ``current_ua`` (uA) and ``duration_ns`` (ns).
    """
    p = _params(params)
    i = _non_negative("current_ua", current_ua, "write_error_rate")
    t = _non_negative("duration_ns", duration_ns, "write_error_rate")
    ratio = i / p.critical_current_ua
    with np.errstate(over="ignore", divide="ignore"):  # each regime overflows in the other's range
        precessional = -np.expm1(
            -(math.pi**2 * p.thermal_stability / 4.0)
            * np.exp(-2.0 * (ratio - 1.0) * t / p.precession_time_ns)
        )
        tau = p.attempt_time_ns * np.exp(p.thermal_stability * (1.0 - ratio))
        thermal = np.exp(-t / tau)
    return np.where(ratio > 1.0, precessional, thermal)


def write_energy_j(
    current_ua: Any, duration_ns: Any, params: STTMRAMParams | str | None = None
) -> np.ndarray:
    """Energy of one write pulse ``E = V I t_p`` (J)."""
    p = _params(params)
    i = _non_negative("current_ua", current_ua, "write_energy_j")
    t = _non_negative("duration_ns", duration_ns, "write_energy_j")
    return p.write_voltage_v * i * 1e-6 * t * 1e-9


def pulse_for_wer(
    target_wer: Any,
    current_ua: Any = None,
    duration_ns: Any = None,
    params: STTMRAMParams | str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write pulse that reaches ``target_wer`` in the precessional regime.

    Give exactly one of ``current_ua`` (then the duration is solved) or ``duration_ns`` (then the
    current is solved), from ``-ln(1 - WER) = (pi^2 Delta / 4) exp(-2 (I/I_c0 - 1) t_p / tau_D)``.

    Returns
    -------
    current_ua, duration_ns, energy_j : ndarray
        The pulse and its energy ``V I t_p``; NaN where the target cannot be reached in the
        precessional regime (a current at or below ``I_c0``).
    """
    p = _params(params)
    wer = np.asarray(target_wer, dtype=np.float64)
    if not np.all((wer > 0) & (wer < 1)):
        raise InvalidParameterError(
            f"The 'target_wer' parameter of pulse_for_wer must be probabilities in (0, 1). "
            f"Got {target_wer!r} instead."
        )
    if (current_ua is None) == (duration_ns is None):
        raise InvalidParameterError(
            "pulse_for_wer needs exactly one of 'current_ua' and 'duration_ns'. "
            f"Got current_ua={current_ua!r}, duration_ns={duration_ns!r} instead."
        )
    # log of (pi^2 Delta / 4) / (-ln(1 - WER)) = 2 (I/I_c0 - 1) t_p / tau_D
    lhs = np.log((math.pi**2 * p.thermal_stability / 4.0) / -np.log1p(-wer))
    if current_ua is not None:
        i = _non_negative("current_ua", current_ua, "pulse_for_wer")
        over = i / p.critical_current_ua - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(over > 0, lhs * p.precession_time_ns / (2.0 * over), np.nan)
        t = np.where(lhs <= 0, 0.0, t)
    else:
        t = _non_negative("duration_ns", duration_ns, "pulse_for_wer")
        with np.errstate(divide="ignore"):
            i = p.critical_current_ua * (1.0 + lhs * p.precession_time_ns / (2.0 * t))
        i = np.where(t > 0, i, np.nan)
    i, t = np.broadcast_arrays(np.asarray(i, dtype=np.float64), np.asarray(t, dtype=np.float64))
    return i, t, p.write_voltage_v * i * 1e-6 * t * 1e-9


@jit_parallel
def _write_kernel(bits, stored, wer, key, write_count, limit, failed, stuck_one):
    for i in prange(bits.size):
        write_count[i] += 1
        if not failed[i] and write_count[i] > limit[i]:
            failed[i] = True
        if failed[i]:
            stored[i] = 1 if stuck_one[i] else 0
        elif uniform(key, np.uint64(i)) < wer:
            stored[i] = 1 - bits[i]
        else:
            stored[i] = bits[i]


class STTMRAM:
    """An array of binary ST-MRAM bits written with a given pulse; each write errs with its WER.

    Following Hirtzlin et al. 2019's error-injection protocol (docs/devices.md), every written bit is
    stored wrong independently with probability ``WER(I, t_p)``, whatever it held before.

    Parameters
    ----------
    n_bits : int
        Number of bits.
    params : STTMRAMParams or str, default ``presets.HIRTZLIN2019_STTMRAM``
        Device parameters or a preset name.
    wear_out : WearOutParams or None, default None
        Endurance limits; None (default) because MTJ endurance far exceeds any simulated run
        (>1e12 cycles is typical [unverified]).
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Attributes
    ----------
    counters : EnduranceCounters
        ``"write"`` events per bit.
    """

    def __init__(
        self,
        n_bits: int,
        params: STTMRAMParams | str | None = None,
        wear_out: WearOutParams | None = None,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.n_bits = check_int("n_bits", n_bits, _OWNER, 1, 2**40)
        self.params = _params(params)
        _presets.check_wear_out(wear_out, _OWNER)
        gen = as_generator(rng, _OWNER)
        self._seed = int(gen.integers(0, 2**63, dtype=np.int64))
        self.wear = WearOut(self.n_bits, wear_out, gen)
        self._bits = np.zeros(self.n_bits, dtype=np.uint8)
        self.counters = EnduranceCounters(self.n_bits, ("write",))
        self._calls = 0

    @property
    def bits(self) -> np.ndarray:
        """Stored bits (0/1), read-only."""
        return readonly(self._bits)

    @property
    def write_count(self) -> np.ndarray:
        """Writes per bit."""
        return self.counters["write"]

    @property
    def failed(self) -> np.ndarray:
        """Worn-out bits (stuck), read-only."""
        return readonly(self.wear.failed)

    def write(
        self, bits: Any, current_ua: float = 100.0, duration_ns: float = 10.0
    ) -> tuple[float, float]:
        """Write ``bits`` (0/1 array of shape ``(n_bits,)``) with one pulse each.

        Returns
        -------
        wer, energy_j : float
            The pulse's write error rate and the energy of the whole write (J).
        """
        arr = np.asarray(bits)
        if (
            arr.shape != (self.n_bits,)
            or arr.dtype.kind not in "biu"
            or (arr.size and (arr.min() < 0 or arr.max() > 1))
        ):
            raise InvalidParameterError(
                f"The 'bits' parameter of {_OWNER}.write must be an array of 0/1 of shape "
                f"({self.n_bits},). Got {arr.dtype}{arr.shape} instead."
            )
        i = check_real("current_ua", current_ua, f"{_OWNER}.write", 0.0)
        t = check_real("duration_ns", duration_ns, f"{_OWNER}.write", 0.0)
        wer = float(write_error_rate(i, t, self.params))
        _write_kernel(
            np.ascontiguousarray(arr, dtype=np.uint8), self._bits, wer,
            derive_key(self._seed, _STREAM_WRITE, self._calls), self.counters.array("write"),
            self.wear.limit, self.wear.failed, self.wear.stuck_lrs_on_failure,
        )  # fmt: skip
        self._calls += 1
        return wer, float(write_energy_j(i, t, self.params)) * self.n_bits

    def read(self) -> np.ndarray:
        """The stored bits (reads of ST-MRAM are taken as error-free here)."""
        return self._bits.copy()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save bits, counters and wear state (npz + JSON header, no pickle)."""
        from .multilevel import _params_to_dict

        wear = self.wear.params
        meta = {
            "n_bits": self.n_bits,
            "seed": str(self._seed),
            "calls": self._calls,
            "params": _params_to_dict(self.params),
            "wear_out": wear_to_dict(wear),
        }
        arrays = {"bits": self._bits, **self.wear.to_arrays(), **self.counters.to_arrays()}
        write_state(path, _STATE_FORMAT, _STATE_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> STTMRAM:
        """Load an array saved by :meth:`save`; later writes continue bit-identically."""
        arrays, meta = read_state(path, _STATE_FORMAT, _STATE_VERSION)
        with reading(path):
            return cls._from_saved(path, arrays, meta)

    @classmethod
    def _from_saved(cls, path: Any, arrays: dict[str, np.ndarray],
                    meta: dict[str, Any]) -> STTMRAM:  # fmt: skip
        wear = meta["wear_out"]
        self = cls(
            int(meta["n_bits"]),
            params=STTMRAMParams(**meta["params"]),
            wear_out=wear_from_dict(wear),
            rng=0,
        )
        self._seed = int(meta["seed"])
        self._calls = int(meta["calls"])
        copy_checked(path, arrays, "bits", self._bits)
        self.wear.load_arrays(arrays)
        self.counters.load_arrays(arrays)
        return self
