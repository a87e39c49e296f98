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


# -- deep tails: fitted populations put the truncation window far from the base median --------
mp = pytest.importorskip("mpmath")
ULP = 2.220446049250313e-16
NORM_WINDOWS = [(7, 8), (7, 7.5), (15, 20), (29.5, 30), (30, math.inf), (-8, -7), (-30, -29.5),
                (-math.inf, -30), (-1, 30), (5, 5.001)]  # fmt: skip


def _mp_window(za, zb):
    """The probability of [za, zb] under N(0, 1), in high precision, as a function."""
    if za > 0:
        return lambda a, b: mp.ncdf(-a) - mp.ncdf(-b)
    return lambda a, b: mp.ncdf(b) - mp.ncdf(a)


def _mp_norm_quantile(za, zb, q, start):
    w = _mp_window(za, zb)
    total = w(za, zb)
    return mp.findroot(lambda t: mp.log(w(za, t)) - mp.log(q * total), start)


@pytest.mark.parametrize("za,zb", NORM_WINDOWS)
def test_normal_deep_in_a_tail_mean_and_median_to_a_few_ulps(za, zb):
    mp.mp.dps = 50
    d = TruncatedDistribution("norm", 2.0, 3.0, None, 2.0 + 3.0 * za, 2.0 + 3.0 * zb)
    a, b = mp.mpf(za), mp.mpf(zb)
    w = _mp_window(za, zb)
    mean = 2 + 3 * (mp.npdf(a) - mp.npdf(b)) / w(a, b)
    median = 2 + 3 * _mp_norm_quantile(a, b, mp.mpf(0.5), mp.mpf(d.median() - 2) / 3)
    assert abs(d.mean() / float(mean) - 1) < 16 * ULP
    assert abs(d.median() / float(median) - 1) < 16 * ULP


@pytest.mark.parametrize("za,zb", [w for w in NORM_WINDOWS if math.isfinite(w[0] + w[1])])
def test_normal_quantiles_deep_in_a_tail_match_scipy(za, zb):
    q = np.linspace(0.0, 1.0, 41)
    d = TruncatedDistribution("norm", 0.0, 1.0, None, za, zb)
    np.testing.assert_allclose(d.ppf(q), st.truncnorm(za, zb).ppf(q), rtol=1e-12, atol=0)


@pytest.mark.parametrize("s,za,zb", [(0.8, 7, 8), (0.8, 20, 21), (2.0, 29.5, 30), (0.3, -30, -29),
                                     (0.8, -2, 2), (5.0, 7, math.inf), (40.0, -1, 1), (0.8, 5, 5.001),
                                     (0.1, -0.5, 0.5), (3.0, -12, -11.9)])  # fmt: skip
def test_lognormal_mean_deep_in_a_tail(s, za, zb):
    mp.mp.dps = 50
    scale = 500.0
    upper = scale * math.exp(s * zb) if math.isfinite(zb) else math.inf
    d = TruncatedDistribution("lognorm", 0.0, scale, s, scale * math.exp(s * za), upper)
    a, b = (mp.mpf(v) for v in d._window())  # the window the bounds really give
    w, sm = _mp_window(za, zb), mp.mpf(s)
    mean = scale * mp.exp(sm * sm / 2) * w(a - sm, b - sm) / w(a, b)
    tolerance = 16 * ULP if za > 0 or zb < 0 else 1e-13  # straddling: log form, s^2/2 = 800
    assert abs(d.mean() / float(mean) - 1) < tolerance


@pytest.mark.parametrize("za,zb", [(0, 1), (700, 701), (1000, 1e9), (5, 5.0001), (0, math.inf)])
def test_exponential_window_anywhere(za, zb):
    mp.mp.dps = 50
    d = TruncatedDistribution("expon", 1.0, 2.0, None, 1 + 2 * za, 1 + 2 * zb)
    width = mp.mpf(zb) - za
    z_mean = za + 1 - (width / mp.expm1(width) if math.isfinite(zb) else 0)
    assert abs(d.mean() / float(1 + 2 * z_mean) - 1) < 16 * ULP
    z_median = za - mp.log1p(-0.5 * (-mp.expm1(-width)) if math.isfinite(zb) else -0.5)
    assert abs(d.median() / float(1 + 2 * z_median) - 1) < 16 * ULP


@pytest.mark.parametrize("dist", [
    TruncatedDistribution("norm", 0.0, 1.0, None, 7.0, 8.0),
    TruncatedDistribution("norm", 0.0, 1.0, None, -30.0, -29.0),
    TruncatedDistribution("lognorm", 0.0, 1.0, 0.1, math.exp(0.7), math.exp(0.8)),
    TruncatedDistribution("expon", 0.0, 1e-4, None, 0.5, 0.6),
])  # fmt: skip
def test_draws_deep_in_a_tail_are_all_distinct(dist):
    x = dist.sample(10_000, np.random.default_rng(0))
    assert np.unique(x).size == 10_000
    assert x.min() >= dist.lower and x.max() <= dist.upper
    assert st.kstest(dist.cdf(x), "uniform").pvalue > 1e-3  # and they follow the distribution
