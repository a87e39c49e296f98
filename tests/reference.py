"""Slow, obvious numpy twins of the numba kernels, for exact comparison in tests.

They follow the equations of docs/devices.md literally (a 1/f buffer that is shifted in memory, newest
first, starting at zeros) and draw the same counter-based random numbers as the kernels.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from devices._rng import GOLDEN_GAMMA, derive_key

_G = np.uint64(GOLDEN_GAMMA)


def mix64(z):
    """SplitMix64 finaliser on uint64 arrays (numpy wraps modulo 2**64)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draw_bits(key, counter):
    counter = np.asarray(counter, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64(np.uint64(key) + (counter + np.uint64(1)) * _G)


def uniform(key, counter):
    return (draw_bits(key, counter) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def uniform_u16(key, counter):
    return (draw_bits(key, counter) >> np.uint64(48)).astype(np.int64)


def _d2d_float64(population):
    d = population.d2d_parameters
    names = ("m1_per_pulse", "t_star_pulses", "c1", "m2_per_pulse", "r0_ohm", "rtn_amplitude")
    return tuple(d[k].astype(np.float64) for k in names)


def _log_r(t, m1, t_star, c1, m2):
    """The mean model, literally as docs/devices.md writes it."""
    if t < t_star:
        return m1 * t + c1
    return m2 * t + t_star * (m1 - m2) + c1


class ReferenceWeakReset:
    """Per-device loop over the weak-RESET equations, fed the same random numbers as the kernel."""

    def __init__(self, population):
        p = population.params
        self.m1, self.t_star, self.c1, self.m2, self.r0, self.amp = _d2d_float64(population)
        self.n = population.n_devices
        self.taps = p.pink_taps
        self.alpha = p.pink_alpha
        self.p_up = p.rtn_p_up_per_pulse
        self.p_down = p.rtn_p_down_per_pulse
        self.use_rtn = population.use_rtn
        self.use_pink = population.use_pink
        self.seed = population._seed
        self.apply_calls = population._apply_calls
        self.read_calls = population._read_calls
        self.t = population.pulses_since_set.astype(np.int64).copy()
        self.s = population.rtn_state.astype(np.int64).copy()
        self.h = population.pink_samples().copy()  # newest first, zeros where empty
        self.weak_reset_count = population.weak_reset_count.copy()
        self.set_count = population.set_count.copy()
        b = [1.0]
        for k in range(1, self.taps):
            b.append(b[-1] * (k - 0.5) / k)
        self.b = np.array(b)

    def apply(self, n):
        n = np.broadcast_to(np.asarray(n, dtype=np.int64), (self.n,))
        key_flip = derive_key(self.seed, 0, self.apply_calls)
        key_pink = derive_key(self.seed, 1, self.apply_calls)
        for i in range(self.n):
            ni = int(n[i])
            if ni == 0:
                continue
            if self.use_rtn:
                # closed form of the two-state Markov chain after ni steps
                lam = 1.0 - self.p_up - self.p_down
                total = self.p_up + self.p_down
                if self.s[i] == 0:
                    p_flip = self.p_up / total * (1.0 - lam**ni)
                else:
                    p_flip = self.p_down / total * (1.0 - lam**ni)
                if uniform(key_flip, i) < p_flip:
                    self.s[i] = 1 - self.s[i]
            if self.use_pink:
                kept = min(ni, self.taps)
                for k in range(kept):  # oldest kept sample first, so the newest ends in front
                    q = uniform_u16(key_pink, i * self.taps + k)
                    self.h[i] = np.concatenate([[(q + 0.5) / 65536.0], self.h[i, :-1]])
            self.t[i] += ni
            self.weak_reset_count[i] += ni
        self.apply_calls += 1

    def read(self):
        key_mag = derive_key(self.seed, 2, self.read_calls)
        r = np.empty(self.n)
        for i in range(self.n):
            t = self.t[i]
            if t == 0:
                r[i] = self.r0[i]
                continue
            w = _log_r(t, self.m1[i], self.t_star[i], self.c1[i], self.m2[i])
            if self.use_rtn and self.s[i] == 1:
                w += self.amp[i] * uniform(key_mag, 2 * i) * uniform(key_mag, 2 * i + 1)
            if self.use_pink:
                acc = 0.0
                for k in range(self.taps):
                    acc += self.alpha * self.b[k] / 65536.0 * (self.h[i, k] * 65536.0)
                w += acc
            r[i] = self.r0[i] * math.exp(w)
        self.read_calls += 1
        return r

    def full_set(self, index):
        self.t[index] = 0
        self.s[index] = 0
        self.h[index] = 0.0
        np.add.at(self.set_count, index, 1)


class ReferenceCodeLayout:
    """The released code's state handling, literally: write ``[r, P_0..P_14, t]``, read back
    ``h = slots 0..14``, ``s = ceil(slot 15)``, ``t = slot 16``; pink buffer = first 15 entries of
    ``roll(concat(h, fresh), n)``. Valid for ``n <= 15`` (the code clips to 14)."""

    def __init__(self, population):
        p = population.params
        self.m1, self.t_star, self.c1, self.m2, self.r0, self.amp = _d2d_float64(population)
        self.n = population.n_devices
        self.p_up, self.p_down, self.alpha = (
            p.rtn_p_up_per_pulse, p.rtn_p_down_per_pulse, p.pink_alpha
        )  # fmt: skip
        self.seed = population._seed
        self.calls = population._apply_calls
        self.state = np.zeros((self.n, 17))  # [r, P0..P14, t] as written by the code
        b = [1.0]
        for k in range(1, 15):
            b.append(b[-1] * (k - 0.5) / k)
        self.b = np.array(b)

    def step(self, n):
        n = np.broadcast_to(np.asarray(n, dtype=np.int64), (self.n,))
        key_flip = derive_key(self.seed, 0, self.calls)
        key_pink = derive_key(self.seed, 1, self.calls)
        key_mag = derive_key(self.seed, 3, self.calls)
        T = np.array([[1 - self.p_up, self.p_up], [self.p_down, 1 - self.p_down]])
        for i in range(self.n):
            ni = int(n[i])
            h = self.state[i, 0:15]
            s = math.ceil(self.state[i, 15])
            t = self.state[i, 16]
            tn = np.linalg.matrix_power(T, ni)
            p_high, p_low = tn[0, 1], tn[1, 0]
            flip = uniform(key_flip, i) < p_low * s + p_high * (1 - s)
            s_new = 1 - s if flip else s
            r_new = 0.0
            if s_new == 1:
                u1 = uniform(key_mag, 2 * i)
                u2 = uniform(key_mag, 2 * i + 1)
                r_new = float(np.float32(u1 * (u2 * self.amp[i])))
            fresh = np.zeros(15)
            for k in range(ni):
                fresh[15 - ni + k] = np.float32(uniform(key_pink, i * 16 + k))
            pink = np.roll(np.concatenate([h, fresh]), ni)[:15]
            self.state[i] = np.concatenate([[r_new], pink, [t + ni]])
        self.calls += 1

    def read(self):
        r = np.empty(self.n)
        for i in range(self.n):
            t = self.state[i, 16]
            if t == 0:
                r[i] = self.r0[i]
                continue
            w = _log_r(t, self.m1[i], self.t_star[i], self.c1[i], self.m2[i])
            w += self.state[i, 0] + self.alpha * np.dot(self.b, self.state[i, 1:16])
            r[i] = self.r0[i] * math.exp(w)
        return r


def normal_pairs(key, base, n_pairs):
    """Box-Muller pairs from the same bits as ``devices._rng.fill_normals``, with numpy's log,
    cos and sin: ``sqrt(-2 ln u1) (cos phi, sin phi)``, ``u1 = (2 k1 + 1) / 2^33``,
    ``phi = 2 pi (2 k2 + 1) / 2^33`` for the high and low 32 bits k1, k2 of each draw."""
    h = draw_bits(key, np.uint64(base) + np.arange(n_pairs, dtype=np.uint64))
    k1 = (h >> np.uint64(32)).astype(np.float64)
    k2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64)
    radius = np.sqrt(-2.0 * np.log((2.0 * k1 + 1.0) * 2.0**-33))
    phi = 2.0 * np.pi * (2.0 * k2 + 1.0) * 2.0**-33
    out = np.empty(2 * n_pairs)
    out[0::2] = radius * np.cos(phi)
    out[1::2] = radius * np.sin(phi)
    return out


# -- normals and multi-level programming --------------------------------------------------------

_MASK = (1 << 64) - 1


def _bits(key, counter):
    return mix64_int((int(key) + (int(counter) + 1) * GOLDEN_GAMMA) & _MASK)


def mix64_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _uniform_int(key, counter):
    return (_bits(key, counter) >> 11) * 2.0**-53


def normal(key, counter):
    """Marsaglia-Tsang ziggurat, written out with Python integers (twin of devices._rng.normal)."""
    from devices._rng import ZIG_F, ZIG_K, ZIG_W

    def split(z):
        low = z & 0xFFFFFFFF
        hz = low - (1 << 32) if low >= (1 << 31) else low
        return hz, (z >> 32) & 127

    key, counter = int(key), int(counter)
    hz, iz = split(_bits(key, counter))
    if abs(hz) < ZIG_K[iz]:
        return hz * ZIG_W[iz]
    alt = key ^ 0x5851F42D4C957F2D
    base = (counter << 8) & _MASK
    k = 0
    while True:
        x = hz * ZIG_W[iz]
        if iz == 0:
            while True:
                xt = -math.log1p(-_uniform_int(alt, base + k)) / 3.442619855899
                yt = -math.log1p(-_uniform_int(alt, base + k + 1))
                k += 2
                if yt + yt >= xt * xt:
                    return 3.442619855899 + xt if hz > 0 else -3.442619855899 - xt
        u = _uniform_int(alt, base + k)
        k += 1
        if ZIG_F[iz] + u * (ZIG_F[iz - 1] - ZIG_F[iz]) < math.exp(-0.5 * x * x):
            return x
        hz, iz = split(_bits(alt, base + k))
        k += 1
        if abs(hz) < ZIG_K[iz]:
            return hz * ZIG_W[iz]


def normal_pair(key, counter):
    """The Box-Muller pair of draw ``(key, counter)`` (:func:`normal_pairs` for one counter)."""
    z = normal_pairs(key, counter, 1)
    return z[0], z[1]


def program_and_verify(cells, targets, means, g, stuck, failed, limit, stuck_lrs, counts, key_set,
                       p):  # fmt: skip
    """Program-and-verify as docs/devices.md describes it, one cell at a time; ``counts`` holds set/reset/verify arrays.

    Iteration ``it`` of cell ``i`` draws the pair ``(key_set, (i << 16) | it)``: SET deviation and
    verify-read noise (the kernel evaluates it in float32); a SET outside the window is drawn
    again from the first normals of ``(key_set ^ ALT, ((i << 16) | it) * 64 + r)``, r = 0, 1, ...
    """
    key_set = int(key_set)
    alt = key_set ^ 0x5851F42D4C957F2D
    lo, hi = p.prog_low_fraction * p.g_min_s, p.prog_high_fraction * p.g_max_s
    iterations, converged = [], []
    for i, target, mu in zip(cells, targets, means, strict=True):
        i = int(i)
        sigma = p.sigma_prog_s * math.sqrt(p.g_max_s / mu)
        ok, it = False, 0
        value = g[i]
        while it < p.max_iterations:
            it += 1
            for kind in ("reset", "set"):
                counts[kind][i] += 1
                if not failed[i] and counts["set"][i] + counts["reset"][i] > limit[i]:
                    failed[i] = True
                    stuck[i] = 2 if stuck_lrs[i] else 1
            ctr = (i << 16) | it
            z_set, z_read = normal_pair(key_set, ctr)
            if stuck[i] == 0:
                value = mu + sigma * z_set
                r = 0
                while not lo <= value <= hi and r < 64:
                    value = mu + sigma * normal_pair(alt, (ctr << 6) | r)[0]
                    r += 1
            else:
                value = p.g_stuck_low_s if stuck[i] == 1 else p.g_stuck_high_s
            counts["verify_read"][i] += 1
            read = value * (1.0 + p.read_noise_rel * z_read)
            if abs(read - target) <= p.verify_tolerance_s:
                ok = True
                break
        g[i] = value
        iterations.append(it)
        converged.append(ok)
    return np.array(iterations), np.array(converged)


def multilevel_read(t, g, stuck, relaxes, set_count, key_read, key_relax, p):
    """Relaxation ``z * sigma_rel(G, t)`` with z the first normal of the Box-Muller pair keyed
    by (SET count, cell), then read noise (ziggurat)."""
    out = np.empty(len(g))
    growth = 1.0 + p.relax_log_growth * math.log10(t / p.relax_reference_s) if t > 0 else 0.0
    for i in range(len(g)):
        if stuck[i] == 1:
            value = p.g_stuck_low_s
        elif stuck[i] == 2:
            value = p.g_stuck_high_s
        else:
            value = g[i]
            if growth > 0 and relaxes[i]:
                z = normal_pair(key_relax, (int(set_count[i]) << 32) | i)[0]
                value += z * p.sigma_relax_s * math.sqrt(p.g_max_s / g[i]) * growth
            value = max(value, 0.0)
        out[i] = value * (1.0 + p.read_noise_rel * normal(key_read, i))
    return out


# -- IR drop: sparse direct nodal solve (scipy) --------------------------------------------------


def ir_drop_direct(G, v, r_wl, r_bl):
    """Currents into the sense amplifiers by a sparse LU solve of the nodal equations."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    G = np.asarray(G, dtype=np.float64)
    M, N = G.shape
    gw, gb = 1.0 / r_wl, 1.0 / r_bl
    w = np.arange(M * N).reshape(M, N)  # word-line node (i, j)
    b = w + M * N  # bit-line node (i, j)
    rows, cols, vals = [], [], []

    def link(p, q, g):  # a conductance g between nodes p and q
        rows.extend([p, q, p, q])
        cols.extend([p, q, q, p])
        vals.extend([g, g, -g, -g])

    diag = np.zeros(2 * M * N)
    diag[w[:, 0]] += gw  # driver segment of every word line
    diag[b[M - 1, :]] += gb  # segment from the last cell to the amplifier
    for i in range(M):
        for j in range(N):
            if j + 1 < N:
                link(w[i, j], w[i, j + 1], gw)
            if i + 1 < M:
                link(b[i, j], b[i + 1, j], gb)
            link(w[i, j], b[i, j], G[i, j])
    A = sp.coo_matrix((vals, (rows, cols)), shape=(2 * M * N,) * 2).tocsc() + sp.diags(diag)
    V = np.atleast_2d(v)
    rhs = np.zeros((2 * M * N, V.shape[0]))
    rhs[w[:, 0], :] = V.T * gw
    x = spla.splu(A.tocsc()).solve(rhs)
    currents = (x[b[M - 1, :], :] * gb).T
    return currents[0] if np.ndim(v) == 1 else currents


def adc_steps(dg3, sigmas, v_read, qmax):
    """Twin of ``crossbar._mvm_kernels.adc_steps``: the ADC steps calibrated on each row tile's
    columns of ``ΔG`` (``sigmas > 0``: the sigma range mode, else max), float32 copies and their
    reciprocals."""
    d = np.asarray(dg3, dtype=np.float64)
    col_abs = np.zeros((d.shape[0], d.shape[2]))
    col_sq = np.zeros((d.shape[0], d.shape[2]))
    for i in range(d.shape[1]):  # row order, as the kernel sums
        col_abs += np.abs(d[:, i])
        col_sq += d[:, i] ** 2
    fs = sigmas * v_read * np.sqrt(col_sq / 3.0) if sigmas > 0 else 1.1 * v_read * col_abs
    step = np.where(fs > 0, fs / qmax, 1e-30)
    step32 = step.astype(np.float32)
    inv = np.divide(np.float32(1.0), step32, out=np.zeros_like(step32), where=step32 > 0)
    return step, step32, inv


# -- the metaplastic optimizer (crossbar._meta_kernels) ---------------------------------------
def metaplastic_adam(w, grads, lr, meta, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    """The binary metaplastic rule (docs/training.md; crossbar.optim.MetaplasticAdam and its
    kernels in crossbar._meta_kernels) written out element by element: the hidden weights after
    the gradients ``grads``."""
    w = list(w)
    m = [0.0] * len(w)
    v = [0.0] * len(w)
    for t, g in enumerate(grads, start=1):
        for k in range(len(w)):
            gk = g[k] + wd * w[k]
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            u = m[k] / (math.sqrt(v[k]) + eps)
            sign = (w[k] > 0) - (w[k] < 0)
            if sign * m[k] > 0:
                u *= 1 - math.tanh(meta * abs(w[k])) ** 2
            w[k] -= step * u
    return w


def interval_meta_factor(w, delta, q, meta, mode):
    """The "interval" multi-level rule's attenuation for one scalar weight ``w`` and update
    ``delta`` (crossbar.optim.multilevel_meta_factor), by enumeration of the thresholds of the
    levels ``q``."""
    thr = [(a + b) / 2 for a, b in itertools.pairwise(q)]
    j = sum(w >= t for t in thr)  # nearest level (saturating)
    ahead = [t for t in thr if t > w] if delta > 0 else [t for t in thr if t < w]
    if not ahead:
        return 1.0
    nxt = min(ahead) if delta > 0 else max(ahead)
    new = j + 1 if delta > 0 else j - 1
    lo = thr[j - 1] if j > 0 else thr[0] - (q[1] - q[0])
    hi = thr[j] if j < len(thr) else thr[-1] + (q[-1] - q[-2])
    if mode == "toward_zero" and not abs(q[new]) < abs(q[j]):
        return 1.0
    return 1 - math.tanh(meta * abs(nxt - w) / (hi - lo)) ** 2
