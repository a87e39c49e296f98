import dataclasses
import json

import pytest

from devices import InvalidParameterError, WeakResetParams, presets
from devices.distributions import TruncatedDistribution


def test_majumdar2021_golden_values():
    p = presets.MAJUMDAR2021
    assert p.m1_per_pulse == TruncatedDistribution(
        "expon", 3.7415768e-5, 6.5646780e-4, None, 3.74e-5, 7.6e-3
    )
    assert p.t_star_pulses == TruncatedDistribution("lognorm", 0.0, 542.53852, 0.80338177, 41, 2000)
    assert p.c1 == TruncatedDistribution("norm", 5.2931410e-3, 5.3208042e-2, None, -0.15, 0.15)
    assert p.m2_per_pulse == TruncatedDistribution(
        "expon", 1.6445e-34, 2.8890517e-5, None, 0, 1.3e-4
    )
    assert p.r0_ohm == TruncatedDistribution("norm", 6988, 381.7, None, 6252, 7897)
    assert p.rtn_amplitude == TruncatedDistribution("uniform", 0.0, 0.5)
    assert (p.rtn_p_up_per_pulse, p.rtn_p_down_per_pulse) == (8e-4, 2e-3)
    assert (p.pink_alpha, p.pink_taps, p.fit_max_pulses) == (0.025, 15, 2000)
    assert "2107.06064" in p.citation


def test_medians_are_the_spec_no_d2d_values():
    m = presets.MAJUMDAR2021.medians()
    expected = dict(m1_per_pulse=4.924e-4, t_star_pulses=515.1, c1=0.0052, m2_per_pulse=1.971e-5,
                    r0_ohm=6997, rtn_amplitude=0.25)  # fmt: skip
    for k, v in expected.items():
        assert m[k] == pytest.approx(v, rel=2e-3, abs=1e-4), k


def test_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        presets.MAJUMDAR2021.pink_alpha = 1.0


def test_get_preset_is_case_insensitive_and_suggests():
    assert presets.get_preset("majumdar2021") is presets.MAJUMDAR2021
    with pytest.raises(InvalidParameterError, match="Did you mean 'MAJUMDAR2021'"):
        presets.get_preset("majumdar2012")
    with pytest.raises(InvalidParameterError, match="'name'"):
        presets.get_preset(3)


def test_json_round_trip(tmp_path):
    path = tmp_path / "p.json"
    presets.to_json(presets.MAJUMDAR2021, path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["model"] == "weak-reset"
    t_star = doc["parameters"]["t_star_pulses"]
    assert t_star["family"] == "lognorm" and t_star["median"] == pytest.approx(515.08, rel=1e-4)
    assert "mean" in t_star
    assert presets.from_json(path) == presets.MAJUMDAR2021


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d.update(version=2), "'version' must be 1"),
        (lambda d: d.update(model="weak_reset"), "Did you mean 'weak-reset'"),
        (lambda d: d["parameters"].pop("c1"), "missing parameters"),
        (lambda d: d["constants"].update(bogus=1), "unknown keys"),
        (lambda d: d["constants"].update(pink_taps=0), "pink_taps"),
        (lambda d: d["parameters"]["c1"].update(family="cauchy"), "parameters.c1"),
    ],
)
def test_from_json_rejects_bad_files(tmp_path, mutate, match):
    doc = json.loads(presets.to_json(presets.MAJUMDAR2021))
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidParameterError, match=match):
        presets.from_json(path)


def test_from_json_reports_missing_file_and_syntax_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="no such parameter file"):
        presets.from_json(tmp_path / "nope.json")
    bad = tmp_path / "syntax.json"
    bad.write_text('{"version": 1,\n "model": }')
    with pytest.raises(InvalidParameterError, match="line 2, column"):
        presets.from_json(bad)
    top = tmp_path / "list.json"
    top.write_text("[1, 2]")
    with pytest.raises(InvalidParameterError, match="JSON object"):
        presets.from_json(top)


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(rtn_p_up_per_pulse=-0.1), "rtn_p_up_per_pulse"),
        (dict(rtn_p_up_per_pulse=0.6, rtn_p_down_per_pulse=0.6), "sum to at most 1"),
        (dict(pink_alpha=float("nan")), "pink_alpha"),
        (dict(pink_taps=17), "pink_taps"),
        (dict(fit_max_pulses=0), "fit_max_pulses"),
        (dict(c1=0.5), "TruncatedDistribution"),
        (dict(r0_ohm=TruncatedDistribution("norm", 7000, 300)), "r0_ohm"),
    ],
)
def test_invalid_params_are_rejected(changes, match):
    with pytest.raises(InvalidParameterError, match=match):
        dataclasses.replace(presets.MAJUMDAR2021, **changes)


def test_replace_keeps_valid_params():
    p = dataclasses.replace(presets.MAJUMDAR2021, pink_alpha=0.05, name="x")
    assert isinstance(p, WeakResetParams) and p.pink_alpha == 0.05
