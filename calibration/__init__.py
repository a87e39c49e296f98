"""Fit device-model parameters to measured data (CSV); depends on :mod:`devices` only.

Planned contents (issue 7): ``io`` (load and validate measured CSV), ``fit`` (weak-RESET,
multi-level and pulse-response fits), ``result`` (versioned JSON parameter files that
:func:`devices.presets.from_json` loads).
"""
