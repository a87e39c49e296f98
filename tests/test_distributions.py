import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st

from devices import InvalidParameterError, TruncatedDistribution, presets

# (distribution, scipy frozen base) pairs covering every family
CASES = [
    (TruncatedDistribution("expon", 3.7415768e-5, 6.5646780e-4, None, 3.74e-5, 7.6e-3),
     st.expon(loc=3.7415768e-5, scale=6.5646780e-4)),
    (TruncatedDistribution("lognorm", 0.0, 542.53852, 0.80338177, 41.0, 2000.0),
     st.lognorm(s=0.80338177, loc=0.0, scale=542.53852)),
    (TruncatedDistribution("norm", 6988.0, 381.7, None, 6252.0, 7897.0), st.norm(6988.0, 381.7)),
    (TruncatedDistribution("uniform", 0.0, 0.5), st.uniform(0.0, 0.5)),
    (TruncatedDistribution("lognorm", 1.0, 2.0, 0.5), st.lognorm(s=0.5, loc=1.0, scale=2.0)),
    (TruncatedDistribution("expon", 0.0, 2.0, None, 1.0), st.expon(scale=2.0)),
]  # fmt: skip


def _scipy_truncated_cdf(base, lo, hi):
    a, b = base.cdf(lo), base.cdf(hi)
    return lambda x: np.clip((base.cdf(x) - a) / (b - a), 0, 1)


@pytest.mark.parametrize("dist,base", CASES)
def test_cdf_and_ppf_match_scipy(dist, base):
    q = np.linspace(0.001, 0.999, 101)
    x = dist.ppf(q)
    np.testing.assert_allclose(_scipy_truncated_cdf(base, dist.lower, dist.upper)(x), q, atol=1e-10)
    np.testing.assert_allclose(dist.cdf(x), q, atol=1e-10)
    assert dist.ppf(0.0) >= dist.lower and dist.ppf(1.0) <= dist.upper


@pytest.mark.parametrize("dist,base", CASES)
def test_samples_follow_truncated_distribution_ks(dist, base):
    x = dist.sample(20_000, np.random.default_rng(1))
    assert x.min() >= dist.lower and x.max() <= dist.upper
    assert st.kstest(x, _scipy_truncated_cdf(base, dist.lower, dist.upper)).pvalue > 1e-3


@pytest.mark.parametrize("dist,base", CASES)
def test_mean_closed_form_equals_quadrature(dist, base):
    lo = max(dist.lower, base.ppf(0.0))
    hi = min(dist.upper, base.ppf(1.0 - 1e-15))
    mass = base.cdf(dist.upper) - base.cdf(dist.lower)
    num, _ = si.quad(lambda x: x * base.pdf(x), lo, hi, limit=200, points=[dist.median()])
    assert dist.mean() == pytest.approx(num / mass, rel=1e-6)


# docs/devices.md: exact quantiles after truncation (5/25/50/75/95 %)
TABLE_QUANTILES = {
    "m1_per_pulse": [7.11e-5, 2.263e-4, 4.924e-4, 9.475e-4, 2.004e-3],
    "t_star_pulses": [142.5, 305.6, 515.1, 848.3, 1522],
    "c1": [-0.0815, -0.0305, 0.0052, 0.0409, 0.0913],
    "m2_per_pulse": [1.47e-6, 8.20e-6, 1.971e-5, 3.91e-5, 8.10e-5],
    "r0_ohm": [6439, 6752, 6997, 7246, 7592],
    "rtn_amplitude": [0.025, 0.125, 0.25, 0.375, 0.475],
}


@pytest.mark.parametrize("name", sorted(TABLE_QUANTILES))
def test_majumdar2021_quantiles_match_spec_table(name):
    dist = getattr(presets.MAJUMDAR2021, name)
    ours = dist.ppf([0.05, 0.25, 0.5, 0.75, 0.95])
    np.testing.assert_allclose(ours, TABLE_QUANTILES[name], rtol=2.5e-3, atol=1e-4 * abs(ours[2]))


def test_dict_round_trip_keeps_values():
    for dist, _ in CASES:
        d = dist.to_dict()
        assert TruncatedDistribution.from_dict(d) == dist
        assert d["median"] == dist.median() and d["mean"] == dist.mean()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(family="nrom", loc=0, scale=1), "family.*Did you mean 'norm'"),
        (dict(family="norm", loc=0, scale=0), "scale"),
        (dict(family="norm", loc=math.nan, scale=1), "loc"),
        (dict(family="norm", loc="0", scale=1), "'loc'"),
        (dict(family="lognorm", loc=0, scale=1), "'shape'.*lognorm"),
        (dict(family="lognorm", loc=0, scale=1, shape=-1.0), "'shape'"),
        (dict(family="norm", loc=0, scale=1, shape=1.0), "'shape'.*None"),
        (dict(family="norm", loc=0, scale=1, lower=1.0, upper=0.0), "lower < upper"),
        (dict(family="expon", loc=0, scale=1, lower=-2.0, upper=-1.0), "no probability"),
    ],
)
def test_invalid_distribution_is_rejected(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        TruncatedDistribution(**kwargs)


@pytest.mark.parametrize(
    "data,match",
    [
        ({"params": {}}, "'family' and 'params'"),
        ({"family": "norm", "params": {"loc": 0, "scale": 1, "mu": 3}}, "unknown keys"),
        ({"family": "norm", "params": {"loc": 0, "scale": -1}}, "scale"),
    ],
)
def test_invalid_distribution_dict_is_rejected(data, match):
    with pytest.raises(InvalidParameterError, match=match):
        TruncatedDistribution.from_dict(data)
