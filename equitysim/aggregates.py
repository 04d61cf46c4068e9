"""Per-district sums of school arrays, so that year-end metrics cost district-level work.

A school's students by group are, in the model, `E_s * (keep_d * dev_s + now_d)`: its enrollment
times its district's current mix `now_d` plus its baseline deviation from that mix `dev_s`, scaled
by what controlled choice leaves of it (`keep_d`). Every sum over a district's schools of such a
quantity times a fixed school attribute f (1, spending deviation, teacher experience, suspension
noise) is therefore `keep_d * sum(E dev f) + now_d * sum(E f)`: two sums fixed by the world. They
are computed here once per world. Only what is not linear in the mix needs the schools
themselves: dissimilarity indices (absolute values) in districts whose mix has moved, and the
rare districts where the formula would give a negative share (clipped, as the plain definition
does). `tests/test_oracle.py` checks the result against the plain per-school computation.

Units: head counts (students) unless stated; shares 0-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .world import BLACK, HISPANIC, OTHER, WHITE

GROUPS3 = (WHITE, BLACK, HISPANIC)


def segment_ranges(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges [first_i, first_i + count_i): the schools of some districts."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.cumsum(count) - count
    return np.repeat(first - offs, count) + np.arange(total)


@dataclass
class SchoolSums:
    """World-fixed sums (per district unless stated) of school attributes weighted by enrollment."""

    E: np.ndarray             # students
    Ef: np.ndarray            # (3, n_d): sum E*phi, E*tau, E*noise
    dev: np.ndarray           # (4, n_d): sum E*dev_g for the four groups
    devf: np.ndarray          # (3 f, 3 groups W/B/H, n_d): sum E*dev_g*f
    devMW: np.ndarray         # sum E*(dev_B + dev_H)*dev_W
    min_dev: np.ndarray       # (4, n_d): smallest dev_g over the district's schools
    # spending and teacher quartiles (fixed school flags)
    hi_E: float
    lo_E: float
    hi_spend: np.ndarray      # (2, n_d): sum over high-minority schools of E*(1+sdev), E*sdev
    lo_spend: np.ndarray
    hi_tau: np.ndarray        # sum over high-minority schools of E*tau
    lo_tau: np.ndarray
    # baseline segregation
    D0: np.ndarray            # within-district dissimilarity at baseline
    multi: np.ndarray         # districts with 2+ schools
    # national dissimilarity of baseline schools: sorted white/minority ratios and prefix sums
    ratio_sorted: np.ndarray
    cw: np.ndarray
    cm: np.ndarray
    # per-school columns (for the few per-school computations)
    s_cols: np.ndarray        # (8, n_s): E, dev_W, dev_B, dev_H, dev_O, phi, tau, noise
    w0: np.ndarray            # baseline white students per school
    m0: np.ndarray            # baseline Black + Hispanic students per school
    base: dict = None         # DistrictMix sums at baseline (keep = 1, mix = the district's)


def school_sums(w) -> SchoolSums:
    """Build the world-fixed sums (about 10 passes over the schools; done once per world)."""
    first = w.d_first_school
    seg = lambda x: np.add.reduceat(x, first)  # noqa: E731 - schools are contiguous by district
    E = w.s_enroll
    dev = w.s_dev
    sdev = w.s_spend_dev
    phi = sdev / (1 + sdev)
    tau = w.s_texp_dev
    noise = w.s_susp_noise
    fs = (phi, tau, noise)
    devM = dev[:, BLACK] + dev[:, HISPANIC]
    min_dev = np.stack([np.minimum.reduceat(dev[:, g], first) for g in range(4)])
    hi, lo = w.s_high_minority, w.s_low_minority
    e0 = w.s_enroll_by_group
    w0, m0 = e0[:, WHITE], e0[:, BLACK] + e0[:, HISPANIC]
    # Baseline within-district dissimilarity, as metrics.dissimilarity_by_group computes it.
    Wd, Md = seg(w0), seg(m0)
    ok = (Wd > 0) & (Md > 0)
    d = w.s_district
    fa = np.divide(w0, Wd[d], out=np.zeros_like(w0), where=ok[d])
    fb = np.divide(m0, Md[d], out=np.zeros_like(m0), where=ok[d])
    D0 = 0.5 * seg(np.abs(fa - fb))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(m0 > 0, w0 / np.where(m0 > 0, m0, 1), np.where(w0 > 0, np.inf, 0.0))
    o = np.argsort(r, kind="stable")
    return SchoolSums(
        E=seg(E), Ef=np.stack([seg(E * f) for f in fs]),
        dev=np.stack([seg(E * dev[:, g]) for g in range(4)]),
        devf=np.stack([np.stack([seg(E * dev[:, g] * f) for g in GROUPS3]) for f in fs]),
        devMW=seg(E * devM * dev[:, WHITE]), min_dev=min_dev,
        hi_E=float(E[hi].sum()), lo_E=float(E[lo].sum()),
        hi_spend=np.stack([seg(E * hi * (1 + sdev)), seg(E * hi * sdev)]),
        lo_spend=np.stack([seg(E * lo * (1 + sdev)), seg(E * lo * sdev)]),
        hi_tau=seg(E * hi * tau), lo_tau=seg(E * lo * tau),
        D0=D0, multi=w.d_nschools >= 2,
        ratio_sorted=r[o], cw=np.r_[0.0, np.cumsum(w0[o])], cm=np.r_[0.0, np.cumsum(m0[o])],
        s_cols=np.ascontiguousarray(np.stack([E, dev[:, WHITE], dev[:, BLACK], dev[:, HISPANIC], dev[:, OTHER],
                                              phi, tau, noise])),
        w0=w0, m0=m0,
    )


def _bilinear(S, keep, now) -> dict:
    """District sums by the linear formula (see the module docstring); `S` holds the world-fixed
    sums of the districts concerned (E, Ef, dev, devf, devMW)."""
    nW, nB, nH = now[WHITE], now[BLACK], now[HISPANIC]
    dev, E, Ef, f = S["dev"], S["E"], S["Ef"], S["devf"]
    out = {"W": keep * dev[WHITE] + nW * E, "B": keep * dev[BLACK] + nB * E, "H": keep * dev[HISPANIC] + nH * E,
           "Wf": keep * f[:, 0] + nW * Ef, "Bf": keep * f[:, 1] + nB * Ef, "Hf": keep * f[:, 2] + nH * Ef}
    out["X"] = keep * (keep * S["devMW"] + (nB + nH) * dev[WHITE] + nW * (dev[BLACK] + dev[HISPANIC])) + (nB + nH) * nW * E
    return out


def with_baseline(S: SchoolSums, w) -> SchoolSums:
    S.base = _bilinear({"E": S.E, "Ef": S.Ef, "dev": S.dev, "devf": S.devf, "devMW": S.devMW}, 1.0, w.d_share.T)
    return S


def _abs_dev_all(S: SchoolSums, rho: float) -> float:
    """sum over all schools of |w0 - rho * m0| at baseline (O(log n) with the prefix sums)."""
    i = int(np.searchsorted(S.ratio_sorted, rho, side="right"))
    lo = rho * S.cm[i] - S.cw[i]
    hi = (S.cw[-1] - S.cw[i]) - rho * (S.cm[-1] - S.cm[i])
    return lo + hi


class TouchedSchools:
    """World-fixed per-school columns of the districts whose mix has moved, kept across a run
    (the set only grows; a district in it whose mix is back at baseline is still computed
    correctly). Schools of one district stay contiguous, in the order districts were added.
    Stored in buffers sized for the whole world; the attributes are views of the filled part."""

    def __init__(self, S: SchoolSums, w):
        self.S, self.w = S, w
        self.member = np.zeros(w.n_districts, bool)
        n_d, n_s = w.n_districts, w.n_schools
        self._d, self._cnt, self._starts = np.zeros(n_d, np.int64), np.zeros(n_d, np.int64), np.zeros(n_d, np.int64)
        self._sch = np.zeros(n_s, np.int64)
        self._cols = np.zeros((5, n_s))        # E, dev_W, dev_B, dev_H, dev_O
        self._PQ = np.zeros((4, n_s))          # E * dev_W, E * (dev_B + dev_H), baseline white, minority
        # their districts' world-fixed sums (E, Ef x3, dev x4, devf 3x3, devMW, min_dev x4), gathered once
        self._ds = np.zeros((24, n_d))
        self.n_d = self.n_s = 0
        self._views()

    def _views(self):
        nd, ns = self.n_d, self.n_s
        self.d, self.cnt, self.starts = self._d[:nd], self._cnt[:nd], self._starts[:nd]
        self.sch, self.cols = self._sch[:ns], self._cols[:, :ns]
        self.P, self.Q, self.w0, self.m0 = self._PQ[:, :ns]
        ds = self._ds[:, :nd]
        self.sums = {"E": ds[0], "Ef": ds[1:4], "dev": ds[4:8], "devf": ds[8:17].reshape(3, 3, nd), "devMW": ds[17],
                     "min_dev": ds[18:22]}

    def update(self, touched: np.ndarray):
        new = touched[~self.member[touched]]
        if not len(new):
            return
        w, S = self.w, self.S
        cnt = w.d_nschools[new]
        sch = segment_ranges(w.d_first_school[new], cnt)
        self.member[new] = True
        nd, ns = self.n_d, self.n_s
        self._d[nd:nd + len(new)] = new
        self._cnt[nd:nd + len(new)] = cnt
        self._starts[nd:nd + len(new)] = ns + np.cumsum(cnt) - cnt
        self._sch[ns:ns + len(sch)] = sch
        cols = S.s_cols[:5, sch]
        self._cols[:, ns:ns + len(sch)] = cols
        self._PQ[0, ns:ns + len(sch)] = cols[0] * cols[1]
        self._PQ[1, ns:ns + len(sch)] = cols[0] * (cols[2] + cols[3])
        self._PQ[2, ns:ns + len(sch)] = S.w0[sch]
        self._PQ[3, ns:ns + len(sch)] = S.m0[sch]
        sl = slice(nd, nd + len(new))
        self._ds[0, sl], self._ds[1:4, sl], self._ds[4:8, sl] = S.E[new], S.Ef[:, new], S.dev[:, new]
        self._ds[8:17, sl] = S.devf[:, :, new].reshape(9, len(new))
        self._ds[17, sl], self._ds[18:22, sl] = S.devMW[new], S.min_dev[:, new]
        self.n_d, self.n_s = nd + len(new), ns + len(sch)
        self._views()


class DistrictMix:
    """Per-district group sums for one state of the integration modifiers.

    `T`: the districts whose mix has moved (TouchedSchools); `keep` (len T.d): the share of each
    school's baseline deviation from its district's mix that remains; `now` (4, len T.d): each
    district's current mix by group. Every other district is at its baseline. Attributes are
    per-district sums (students; or students x attribute): W, B, H, M (= B + H), Wf/Bf/Hf/Mf
    (3, n_d) for f = phi, tau, noise, X = sum(M_s * W_s / E_s) (exposure numerator), D
    (within-district dissimilarity) and the national dissimilarity `D_nat`.
    """

    def __init__(self, S: SchoolSums, T: TouchedSchools, keep: np.ndarray, now: np.ndarray):
        base = S.base
        self.W, self.B, self.H, self.X = (base[k].copy() for k in ("W", "B", "H", "X"))
        self.Wf, self.Bf, self.Hf = (base[k].copy() for k in ("Wf", "Bf", "Hf"))
        self.D = S.D0
        d = T.d
        if len(d):
            for name, v in _bilinear(T.sums, keep, now).items():
                getattr(self, name)[..., d] = v
            cnt, c = T.cnt, T.cols
            k = np.repeat(keep, cnt)
            wv = k * T.P + c[0] * np.repeat(now[WHITE], cnt)
            mv = k * T.Q + c[0] * np.repeat(now[BLACK] + now[HISPANIC], cnt)
            # Districts whose linear formula could give a negative share get the plain, clipped
            # computation for every sum (districts pulled hard toward their region's mix).
            clip = ((keep * T.sums["min_dev"] + now) < 0).any(0)
            if clip.any():
                self._clipped(S, T, k, now, clip, wv, mv)
            Wt, Mt = self.W[d], self.B[d] + self.H[d]
            ok = (Wt > 0) & (Mt > 0)
            inv_w = ok / np.maximum(Wt, 1e-300)
            inv_m = ok / np.maximum(Mt, 1e-300)
            self.D = self.D.copy()
            self.D[d] = 0.5 * np.add.reduceat(np.abs(wv * np.repeat(inv_w, cnt) - mv * np.repeat(inv_m, cnt)), T.starts)
        self.M = self.B + self.H
        self.Mf = self.Bf + self.Hf
        W_tot, M_tot = float(self.W.sum()), float(self.M.sum())
        if W_tot > 0 and M_tot > 0:
            rho = W_tot / M_tot
            moved = float(np.abs(wv - rho * mv).sum() - np.abs(T.w0 - rho * T.m0).sum()) if len(d) else 0.0
            self.D_nat = 0.5 * (_abs_dev_all(S, rho) + moved) / W_tot
        else:
            self.D_nat = 0.0
        self.W_tot, self.M_tot = W_tot, M_tot

    def _clipped(self, S, T, k, nd, clip, wv, mv):
        """Plain per-school computation, with shares clipped at 0 and renormalised, for the
        districts T.d[clip]; overwrites their school values and district sums."""
        cnt = T.cnt[clip]
        pos = np.flatnonzero(np.repeat(clip, T.cnt))
        kp, c = k[pos], T.cols[:, pos]
        share = np.stack([kp * c[1 + g] + np.repeat(nd[g, clip], cnt) for g in range(4)])
        np.maximum(share, 0, out=share)
        share /= share[0] + share[1] + share[2] + share[3]
        E = c[0]
        w_, b_, h_ = share[WHITE] * E, share[BLACK] * E, share[HISPANIC] * E
        m_ = b_ + h_
        wv[pos], mv[pos] = w_, m_
        starts = np.cumsum(cnt) - cnt
        seg = lambda x: np.add.reduceat(x, starts)  # noqa: E731
        dc = T.d[clip]
        fs = S.s_cols[5:8, T.sch[pos]]
        self.W[dc], self.B[dc], self.H[dc] = seg(w_), seg(b_), seg(h_)
        for j in range(3):
            self.Wf[j, dc] = seg(w_ * fs[j])
            self.Bf[j, dc] = seg(b_ * fs[j])
            self.Hf[j, dc] = seg(h_ * fs[j])
        self.X[dc] = seg(m_ * w_ / E)
