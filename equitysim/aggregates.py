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


def _abs_dev_all(S: SchoolSums, rho: float) -> float:
    """sum over all schools of |w0 - rho * m0| at baseline (O(log n) with the prefix sums)."""
    i = int(np.searchsorted(S.ratio_sorted, rho, side="right"))
    lo = rho * S.cm[i] - S.cw[i]
    hi = (S.cw[-1] - S.cw[i]) - rho * (S.cm[-1] - S.cm[i])
    return lo + hi


class DistrictMix:
    """Per-district group sums for one state of the integration modifiers.

    `keep` (n_d): the share of each school's baseline deviation from its district's mix that
    remains; `now` (4, n_d): each district's current mix by group. Attributes are per-district
    sums (students; or students x attribute): W, B, H, M (= B + H), Wf/Mf (3, n_d) for f = phi,
    tau, noise (Bn, Hn: Black and Hispanic x noise), X = sum(M_s * W_s / E_s) (exposure
    numerator), D (within-district dissimilarity) and national dissimilarity `D_nat`.
    """

    def __init__(self, S: SchoolSums, w, keep: np.ndarray, now: np.ndarray, touched: np.ndarray):
        nW, nB, nH = now[WHITE], now[BLACK], now[HISPANIC]
        nM = nB + nH
        dW, dB, dH = S.dev[WHITE], S.dev[BLACK], S.dev[HISPANIC]
        dM = dB + dH
        self.W = keep * dW + nW * S.E
        self.B = keep * dB + nB * S.E
        self.H = keep * dH + nH * S.E
        self.M = self.B + self.H
        f = S.devf  # (3 f, 3 groups, n_d)
        self.Wf = keep * f[:, 0] + nW * S.Ef
        self.Bf = keep * f[:, 1] + nB * S.Ef
        self.Hf = keep * f[:, 2] + nH * S.Ef
        self.Mf = self.Bf + self.Hf
        self.X = keep * (keep * S.devMW + nM * dW + nW * dM) + nM * nW * S.E
        self.D = S.D0.copy()
        W_tot, M_tot = float(self.W.sum()), float(self.M.sum())
        # Districts whose linear formula could give a negative share get the plain, clipped
        # computation for every sum (rare: strong interdistrict mixing).
        t = touched
        clip = t[((keep[t] * S.min_dev[:, t] + now[:, t]) < 0).any(0)] if len(t) else t
        rho = W_tot / M_tot
        if len(t):
            sch = segment_ranges(w.d_first_school[t], w.d_nschools[t])
            cnt = w.d_nschools[t]
            wv, bv, hv = self._schools(S, keep[t], now[:, t], sch, cnt)
            if len(clip):
                W_tot, M_tot = self._override_clipped(S, w, keep, now, clip, W_tot, M_tot)
                rho = W_tot / M_tot
                # replace the clipped districts' school values by the clipped ones
                pos = np.flatnonzero(np.isin(np.repeat(t, cnt), clip))
                cw_, cb_, ch_ = self._clip_school
                wv[pos], bv[pos], hv[pos] = cw_, cb_, ch_
            mv = bv + hv
            starts = np.cumsum(cnt) - cnt
            Wt, Mt = self.W[t], self.M[t]
            ok = (Wt > 0) & (Mt > 0)
            inv_w = np.where(ok, 1 / np.where(ok, Wt, 1), 0.0)
            inv_m = np.where(ok, 1 / np.where(ok, Mt, 1), 0.0)
            self.D[t] = 0.5 * np.add.reduceat(np.abs(wv * np.repeat(inv_w, cnt) - mv * np.repeat(inv_m, cnt)), starts)
            moved = float(np.abs(wv - rho * mv).sum())
            base_t = float(np.abs(S.w0[sch] - rho * S.m0[sch]).sum())
        else:
            moved = base_t = 0.0
        self.D_nat = 0.5 * ((_abs_dev_all(S, rho) - base_t) + moved) / W_tot if W_tot > 0 and M_tot > 0 else 0.0
        self.W_tot, self.M_tot = W_tot, M_tot

    @staticmethod
    def _schools(S, keep_t, now_t, sch, cnt):
        c = S.s_cols
        k = np.repeat(keep_t, cnt)
        E = c[0, sch]
        wv = E * (k * c[1, sch] + np.repeat(now_t[WHITE], cnt))
        bv = E * (k * c[2, sch] + np.repeat(now_t[BLACK], cnt))
        hv = E * (k * c[3, sch] + np.repeat(now_t[HISPANIC], cnt))
        return wv, bv, hv

    def _override_clipped(self, S, w, keep, now, clip, W_tot, M_tot):
        """Plain per-school computation, with shares clipped at 0 and renormalised, for `clip`."""
        cnt = w.d_nschools[clip]
        sch = segment_ranges(w.d_first_school[clip], cnt)
        c = S.s_cols
        k = np.repeat(keep[clip], cnt)
        share = np.stack([k * c[1 + g, sch] + np.repeat(now[g, clip], cnt) for g in range(4)], 1)
        np.clip(share, 0, None, out=share)
        share /= share.sum(1, keepdims=True)
        E = c[0, sch]
        e = share * E[:, None]
        wv, bv, hv = e[:, WHITE], e[:, BLACK], e[:, HISPANIC]
        mv = bv + hv
        starts = np.cumsum(cnt) - cnt
        seg = lambda x: np.add.reduceat(x, starts)  # noqa: E731
        fs = c[5:8, sch]
        W_tot += float(seg(wv).sum() - self.W[clip].sum())
        M_tot += float(seg(mv).sum() - self.M[clip].sum())
        self.W[clip], self.B[clip], self.H[clip] = seg(wv), seg(bv), seg(hv)
        self.M[clip] = self.B[clip] + self.H[clip]
        for j in range(3):
            self.Wf[j, clip] = seg(wv * fs[j])
            self.Bf[j, clip] = seg(bv * fs[j])
            self.Hf[j, clip] = seg(hv * fs[j])
            self.Mf[j, clip] = self.Bf[j, clip] + self.Hf[j, clip]
        self.X[clip] = seg(mv * wv / E)
        self._clip_school = (wv, bv, hv)
        return W_tot, M_tot
