"""Fit device-model parameters to measured data (CSV); depends on :mod:`devices` only.

``calibration.io``
    Load and validate measured pulse trains (long and wide layouts; errors name file, line and
    column).
``calibration.fit``
    The weak-RESET model of Majumdar et al. (IEEE TED 2021), per device and per population,
    with the devices left out and bootstrap intervals.
``calibration.noise``
    RTN and 1/f amplitudes from the residual variogram.
``calibration.population``
    Truncated maximum-likelihood distributions of device-to-device parameters.
``calibration.multilevel``
    Multi-level 1T1R cells: per-level spread and the relaxation law.
``calibration.pulse_response``
    A generic pulse-response (potentiation / depression) fit that drives
    :class:`devices.PulseResponseDevice`.

Every fit writes a versioned JSON parameter file that :func:`devices.presets.from_json` loads
(docs/calibration.md).
"""
