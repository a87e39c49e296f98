"""Configuration of the crossbar engine: converters, tiles, mapping, non-idealities, energy."""

from __future__ import annotations

from dataclasses import dataclass, field

from devices import (
    InvalidParameterError,
    MultiLevelParams,
    PulseResponseParams,
    WearOutParams,
    presets,
)
from devices.pulse_response import program_window_s
from devices.support import check_choice, check_int, check_real

__all__ = ["MAPPINGS", "ADCConfig", "CrossbarConfig", "DACConfig", "EnergyModel"]

#: Weight mappings: a differential pair per weight (``G+ - G-``), or one device per weight and a
#: reference column per tile whose current is subtracted.
MAPPINGS = ("differential", "reference")


def _bits(owner: str, name: str, value: int | None) -> None:
    if value is not None:
        check_int(name, value, owner, 1, 16)


@dataclass(frozen=True)
class DACConfig:
    """Input digital-to-analog converters (one per word line).

    Parameters
    ----------
    bits : int or None
        Resolution in bits (1-16; >= 2 when signed); None is an ideal converter.
    v_read_v : float
        Read voltage at full scale (V); small enough not to disturb the cells.
    input_range : float or None
        Input magnitude mapped to ``v_read_v``; None: each input vector's own max ``|x|``
        (dynamic range scaling, undone after the ADC).
    signed : bool
        Bipolar inputs (negative voltages for negative inputs); if False, negative inputs are an
        error.
    """

    bits: int | None = 8
    v_read_v: float = 0.2
    input_range: float | None = None
    signed: bool = True

    def __post_init__(self) -> None:
        _bits("DACConfig", "bits", self.bits)
        if self.bits == 1 and self.signed:
            raise InvalidParameterError(
                "The 'bits' parameter of DACConfig must be >= 2 for a signed DAC (one bit has no "
                "code for both signs). Got 1 instead."
            )
        check_real("v_read_v", self.v_read_v, "DACConfig", 0.0, 5.0, low_open=True)
        if self.input_range is not None:
            check_real("input_range", self.input_range, "DACConfig", 0.0, low_open=True)


@dataclass(frozen=True)
class ADCConfig:
    """Column analog-to-digital converters (one conversion per column and row tile).

    Parameters
    ----------
    bits : int or None
        Resolution in bits (2-16), signed (two's complement); None is an ideal converter.
    full_scale_a : float or None
        Current at full scale (A); None: calibrated per column at programming, by ``range_mode``.
    range_mode : {"sigma", "max"}
        ``"sigma"`` (default): ``range_sigmas`` standard deviations of the column current for
        independent inputs uniform in ``±v_read`` (``v_read * sqrt(sum_i dG_ij^2 / 3)``), which
        saturates rarely for such inputs and resolves them far better; ``"max"``: the largest
        current the column can carry (``1.1 v_read * sum_i |dG_ij|``; never saturates, but
        typical currents use few codes: on the 784-1024-10 network of ``qnn-multilevel`` it
        costs 2 points of Fashion-MNIST accuracy at 8 bits, docs/crossbar.md).
    range_sigmas : float
        Width of the ``"sigma"`` range, in standard deviations.
    """

    bits: int | None = 8
    full_scale_a: float | None = None
    range_mode: str = "sigma"
    range_sigmas: float = 4.0

    def __post_init__(self) -> None:
        if self.bits is not None:  # signed codes: one bit would leave only zero
            check_int("bits", self.bits, "ADCConfig", 2, 16)
        if self.full_scale_a is not None:
            check_real("full_scale_a", self.full_scale_a, "ADCConfig", 0.0, low_open=True)
        check_choice("range_mode", self.range_mode, ("sigma", "max"), "ADCConfig")
        check_real("range_sigmas", self.range_sigmas, "ADCConfig", 0.0, low_open=True)


@dataclass(frozen=True)
class EnergyModel:
    """Constants of the energy and latency estimate of one matrix-vector product.

    All [INFERRED] typical values for a 130 nm 1T1R macro, listed in ``docs/crossbar.md``.

    Parameters
    ----------
    read_pulse_s : float
        Duration of the read pulse on the word lines (s).
    dac_energy_j : float
        Energy of one DAC conversion at 8 bits (J); scales as ``2**bits / 2**8``.
    adc_fom_j_per_step : float
        ADC figure of merit (J per conversion step): one conversion costs ``fom * 2**bits``.
    adc_time_s : float
        Time of one ADC conversion (s).
    adcs_per_tile : int
        ADCs shared by the columns of a tile (column multiplexing).
    digital_add_j : float
        Energy of one digital accumulation of a partial sum (J).
    """

    read_pulse_s: float = 10e-9
    dac_energy_j: float = 0.1e-12
    adc_fom_j_per_step: float = 20e-15
    adc_time_s: float = 10e-9
    adcs_per_tile: int = 16
    digital_add_j: float = 0.05e-12

    def __post_init__(self) -> None:
        for name in ("read_pulse_s", "dac_energy_j", "adc_fom_j_per_step", "adc_time_s",
                     "digital_add_j"):  # fmt: skip
            check_real(name, getattr(self, name), "EnergyModel", 0.0)
        check_int("adcs_per_tile", self.adcs_per_tile, "EnergyModel", 1)


@dataclass(frozen=True)
class CrossbarConfig:
    """How weights live in crossbar arrays and how they are read.

    Parameters
    ----------
    tile_rows, tile_cols : int
        Array size (word lines x bit lines); default 128 x 128, a 16 kbit CEA-Leti 130 nm array.
    mapping : {"differential", "reference"}
        ``"differential"``: two devices per weight in two arrays, ``w ~ G+ - G-``, currents
        subtracted before the ADC. ``"reference"``: one device per weight, ``w ~ G - G_ref``,
        with one column per tile at ``G_ref`` (the middle of the window) whose current is
        subtracted.
    levels : int or None
        Conductance levels of the devices (>= 2). With multi-level devices, None means ideal
        devices set exactly to any conductance in the window (no quantization, no programming
        noise, no relaxation); with pulse-response devices, None means analog targets (each
        weight's own conductance) and K means K equally spaced levels in the window.
    allocation : {"linear", "statistics"}
        Level allocation of multi-level devices (pulse-response devices: ``"linear"`` only).
    device : MultiLevelParams or PulseResponseParams
        Device parameters (default ``presets.CEA_LETI_130NM``): multi-level 1T1R cells written
        by program-and-verify, or a measured device (``crossbar fit pulse-response``) written by
        closed-loop pulse programming (``devices.PulseResponseDevice.program``; no read noise,
        no relaxation: the fit does not describe them).
    wear_out : WearOutParams or None
        Endurance limits of the devices.
    weight_range : float or None
        ``|w|`` mapped to the full conductance window; None: the largest ``|w|`` at programming.
    read_noise : bool
        Draw the devices' read noise at every read.
    read_precision : {"auto", "fast", "float32"}
        Arithmetic of noisy reads of differential tiles (``docs/crossbar.md``, "Read
        arithmetic"). ``"float32"``: float32 products for the column currents and for their
        read-noise variances. ``"fast"``: the variances ``(sigma v)**2 @ (G+**2 + G-**2)`` with
        bfloat16 operands and result (<= 0.6 % on the variance, <= 0.3 % on the standard
        deviation), and, with a DAC of at most 127 codes, the currents as exact int8 products
        of the DAC codes and each column's two-digit fixed-point ``G+ - G-`` (error <= 1.6e-5
        of the column's largest ``|G+ - G-|``, below 1 % of the read noise); about 1.6x faster
        on CPUs with native bfloat16. ``"auto"``: ``"fast"`` for reads of >= 128 input vectors
        on CPUs that multiply bfloat16 natively (AVX512-BF16 or AMX), ``"float32"`` otherwise
        (the fast operands are prepared once per programmed state: not worth it for small
        batches, e.g. training steps, which reprogram between reads).
    read_time_s : float
        Default time since programming at which arrays are read (relaxation), s.
    dac, adc : DACConfig, ADCConfig
        Converters.
    ir_drop : bool
        Solve the resistive network of every tile (slow; see ``crossbar.ir_drop``).
    r_wl_ohm, r_bl_ohm : float
        Word-line and bit-line resistance per cell segment (ohm).
    energy : EnergyModel
        Constants of the energy and latency estimate.
    """

    tile_rows: int = 128
    tile_cols: int = 128
    mapping: str = "differential"
    levels: int | None = 8
    allocation: str = "linear"
    device: MultiLevelParams | PulseResponseParams = field(
        default_factory=lambda: presets.CEA_LETI_130NM
    )
    wear_out: WearOutParams | None = field(default_factory=WearOutParams)
    weight_range: float | None = None
    read_noise: bool = True
    read_precision: str = "auto"
    read_time_s: float = 60.0
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=ADCConfig)
    ir_drop: bool = False
    r_wl_ohm: float = 1.0
    r_bl_ohm: float = 1.0
    energy: EnergyModel = field(default_factory=EnergyModel)

    def __post_init__(self) -> None:
        owner = "CrossbarConfig"
        check_int("tile_rows", self.tile_rows, owner, 1, 4096)
        check_int("tile_cols", self.tile_cols, owner, 2, 4096)
        check_choice("mapping", self.mapping, MAPPINGS, owner)
        if self.levels is not None:
            check_int("levels", self.levels, owner, 2, 1024)
        check_choice("allocation", self.allocation, ("linear", "statistics"), owner)
        if not isinstance(self.device, (MultiLevelParams, PulseResponseParams)):
            raise InvalidParameterError(
                f"The 'device' parameter of {owner} must be a MultiLevelParams or a "
                f"PulseResponseParams. Got {type(self.device).__name__} instead."
            )
        if self.pulse_devices:
            self.g_window_s  # noqa: B018 - raises when the device cannot be programmed
        if self.pulse_devices and self.allocation != "linear":
            raise InvalidParameterError(
                f"The 'allocation' parameter of {owner} must be 'linear' with pulse-response "
                f"devices (their levels are equally spaced). Got {self.allocation!r} instead."
            )
        presets.check_wear_out(self.wear_out, owner)
        if self.weight_range is not None:
            check_real("weight_range", self.weight_range, owner, 0.0, low_open=True)
        check_choice("read_precision", self.read_precision, ("auto", "fast", "float32"), owner)
        check_real("read_time_s", self.read_time_s, owner, 0.0)
        check_real("r_wl_ohm", self.r_wl_ohm, owner, 0.0, low_open=True)
        check_real("r_bl_ohm", self.r_bl_ohm, owner, 0.0, low_open=True)
        for name, kind in (("dac", DACConfig), ("adc", ADCConfig), ("energy", EnergyModel)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a {kind.__name__}. "
                    f"Got {type(getattr(self, name)).__name__} instead."
                )

    @property
    def pulse_devices(self) -> bool:
        """True when the cells are pulse-response devices (a measured device)."""
        return isinstance(self.device, PulseResponseParams)

    @property
    def ideal_devices(self) -> bool:
        """True when the cells are ideal (exact conductances, no device model)."""
        return self.levels is None and not self.pulse_devices

    @property
    def g_window_s(self) -> tuple[float, float]:
        """Conductance window weights are mapped to (S): ``[g_min_s, g_max_s]`` of multi-level
        devices; the range closed-loop pulse programming reaches for pulse-response devices
        (``devices.pulse_response.program_window_s``)."""
        if isinstance(self.device, PulseResponseParams):
            return program_window_s(self.device)
        return self.device.g_min_s, self.device.g_max_s

    @property
    def read_noise_rel(self) -> float:
        """Relative read noise of one cell read (0 when off, ideal or pulse-response devices)."""
        if not self.read_noise or self.pulse_devices or self.levels is None:
            return 0.0
        return float(self.device.read_noise_rel)

    @classmethod
    def ideal(cls, **changes: object) -> CrossbarConfig:
        """Ideal devices and converters, no noise: the MVM equals ``W @ x``."""
        base: dict[str, object] = {
            "levels": None,
            "read_noise": False,
            "wear_out": None,
            "dac": DACConfig(bits=None),
            "adc": ADCConfig(bits=None),
        }
        base.update(changes)
        return cls(**base)  # type: ignore[arg-type]
