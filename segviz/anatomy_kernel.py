"""The per-image error-anatomy kernel (plain Python loops, compiled by numba when it is there).

Everything works per class on the class's bounding box (of its ground-truth and predicted pixels)
grown by a margin, so small classes cost little. The exact ("Euclidean") disk dilation of radius w
is done without a kernel: a column scan gives each pixel's vertical distance to the nearest source
pixel (capped at w + 1) and a query pixel is within the disk of a source iff some column offset
dx in [-w, w] has dx² + v² <= w² + w (the reference's disk is round(√(dx²+dy²)) <= w, i.e.
dx² + dy² <= w² + w for integers). Square windows (the 3×3 kernel iterated d times) are box counts
from integral images. Connected pieces are 8-connected, found by a stack-based flood fill.

State of a pixel for class c (``S``): 0 TN (neither ground truth nor prediction is c; ignored
ground truth counts as "not c", as in the reference), 1 TP, 2 FP (prediction c, ground truth not c,
ignored ground truth included: the reference's masks include it), 3 FN. Counts leave ignored pixels
out. Do not call these functions directly: use :mod:`segviz.anatomy`.
"""

from __future__ import annotations

import threading

import numpy as np

# Columns of the per-class output row (see segviz.anatomy.FIELDS).
TP, FP_B, FP_E, FP_S, FN_B, FN_E, FN_S = 0, 1, 2, 3, 4, 5, 6
BI_I, BI_U, TRI_I, TRI_U = 7, 8, 9, 10
GT_OBJ, FOUND, INVENTED = 11, 12, 13
NUM_BASE = 14  # then, per size bin: gt objects, found objects, gt pixels, tp pixels


def _vdist(a, v1, v2, cap, out1, out2):
    """out1[y, x] / out2[y, x] = vertical distance to the nearest a == v1 / a == v2 in column x,
    capped at ``cap`` (both in one pass, row by row in memory order)."""
    h, wd = a.shape
    last1 = np.full(wd, -(1 << 30), np.int64)
    last2 = np.full(wd, -(1 << 30), np.int64)
    for y in range(h):
        for x in range(wd):
            v = a[y, x]
            if v == v1:
                last1[x] = y
            elif v == v2:
                last2[x] = y
            d1 = y - last1[x]
            d2 = y - last2[x]
            out1[y, x] = d1 if d1 < cap else cap
            out2[y, x] = d2 if d2 < cap else cap
    last1[:] = 1 << 30
    last2[:] = 1 << 30
    for y in range(h - 1, -1, -1):
        for x in range(wd):
            v = a[y, x]
            if v == v1:
                last1[x] = y
            elif v == v2:
                last2[x] = y
            d1 = last1[x] - y
            d2 = last2[x] - y
            if d1 < out1[y, x]:
                out1[y, x] = d1
            if d2 < out2[y, x]:
                out2[y, x] = d2


def _near(v, y, x, w, lim):
    """Whether a source lies in the exact disk of radius w around (y, x), from the column distances."""
    wd = v.shape[1]
    lo = x - w if x - w > 0 else 0
    hi = x + w if x + w < wd - 1 else wd - 1
    for xx in range(lo, hi + 1):
        dx = xx - x
        dv = v[y, xx]
        if dx * dx + dv * dv <= lim:
            return True
    return False


def _flood(m, lab, n, y0, x0, stack):
    """Label the 8-connected piece of equal non-zero ``m`` values holding (y0, x0) with ``n``;
    its pixels are left in ``stack[:count]`` (flat indices); returns count."""
    h, wd = m.shape
    v = m[y0, x0]
    lab[y0, x0] = n
    stack[0] = y0 * wd + x0
    top = 1
    i = 0
    while i < top:
        q = stack[i]
        i += 1
        y = q // wd
        x = q - y * wd
        for dy in range(-1, 2):
            yy = y + dy
            if yy < 0 or yy >= h:
                continue
            for dx in range(-1, 2):
                xx = x + dx
                if xx < 0 or xx >= wd:
                    continue
                if m[yy, xx] == v and lab[yy, xx] == 0:
                    lab[yy, xx] = n
                    stack[top] = yy * wd + xx
                    top += 1
    return top


def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _label_runs(m, ry, rx0, rx1, row_start, parent, comp):
    """8-connected pieces of a 0/1 mask as runs: fills the runs (row, first, last column) and
    ``comp`` (piece of each run, numbered in order of first appearance); returns (runs, pieces)."""
    h, wd = m.shape
    n = 0
    for y in range(h):
        row_start[y] = n
        x = 0
        while x < wd:
            if m[y, x] != 0:
                x0 = x
                while x < wd and m[y, x] != 0:
                    x += 1
                ry[n] = y
                rx0[n] = x0
                rx1[n] = x - 1
                n += 1
            else:
                x += 1
    row_start[h] = n
    for i in range(n):
        parent[i] = i
    for y in range(1, h):
        j = row_start[y - 1]
        above_end = row_start[y]
        for i in range(row_start[y], row_start[y + 1]):
            while j < above_end and rx1[j] < rx0[i] - 1:
                j += 1
            q = j
            while q < above_end and rx0[q] <= rx1[i] + 1:  # touching, diagonals included
                a = _find(parent, i)
                b = _find(parent, q)
                if a < b:
                    parent[b] = a
                elif b < a:
                    parent[a] = b
                q += 1
    pieces = 0
    for i in range(n):
        r = _find(parent, i)
        if r == i:
            comp[i] = pieces
            pieces += 1
        else:
            comp[i] = comp[r]  # the root is the piece's first run, already numbered
    return n, pieces


def _integral(m, out):
    """Fill ``out`` (h+1, w+1) int32 with the integral image of a 0/1 uint8 mask."""
    h, wd = m.shape
    out[0, :] = 0
    for y in range(h):
        out[y + 1, 0] = 0
        run = 0
        for x in range(wd):
            run += m[y, x]
            out[y + 1, x + 1] = out[y, x + 1] + run


def anatomy_image(g, p, k, w, d, skip, thresholds, out, fp_kind, fn_kind):
    """Fill ``out`` (k, NUM_BASE + 4·bins) int64 and the per-pixel kinds of one image.

    g: int32 (H, W) ground-truth class index, k = ignored. p: int32 (H, W) predicted class index,
    anything >= k = not a class. w: boundary width (pixels, exact disk). d: Boundary/Trimap IoU
    width (3×3 kernel iterated). skip: bool (k,) classes whose boundary pieces skip the contour test
    (the reference's quirk). thresholds: float64 ascending object-size limits. fp_kind / fn_kind:
    uint8 (H, W) written with 1 boundary, 2 extent, 3 segment for the pixel's predicted / true class.
    """
    hh, ww = g.shape
    nb = thresholds.shape[0] + 1
    ymin = np.full(k, hh, np.int64)
    ymax = np.full(k, -1, np.int64)
    xmin = np.full(k, ww, np.int64)
    xmax = np.full(k, -1, np.int64)
    for y in range(hh):
        for x in range(ww):
            a = g[y, x]
            b = p[y, x]
            if a < k:
                if y < ymin[a]:
                    ymin[a] = y
                if y > ymax[a]:
                    ymax[a] = y
                if x < xmin[a]:
                    xmin[a] = x
                if x > xmax[a]:
                    xmax[a] = x
            if b < k and b != a:
                if y < ymin[b]:
                    ymin[b] = y
                if y > ymax[b]:
                    ymax[b] = y
                if x < xmin[b]:
                    xmin[b] = x
                if x > xmax[b]:
                    xmax[b] = x
    # scratch buffers, allocated once per image and viewed per class (fresh memory per class cost
    # more than the work on large classes)
    npx = hh * ww
    b_s = np.empty(npx, np.uint8)
    b_ign = np.empty(npx, np.uint8)
    b_bnd = np.empty(npx, np.uint8)
    b_naive = np.empty(npx, np.uint8)
    b_cand = np.empty(npx, np.uint8)
    b_mp = np.empty(npx, np.uint8)
    b_mg = np.empty(npx, np.uint8)
    b_v1 = np.empty(npx, np.int32)
    b_v2 = np.empty(npx, np.int32)
    b_lab = np.empty(npx, np.int32)
    b_stack = np.empty(npx, np.int64)
    ry = np.empty(npx, np.int32)  # runs: row, first and last column
    rx0 = np.empty(npx, np.int32)
    rx1 = np.empty(npx, np.int32)
    row_start = np.empty(hh + 1, np.int64)
    parent = np.empty(npx, np.int32)
    comp = np.empty(npx, np.int32)
    cnt = np.empty(npx, np.int64)
    size = np.empty(npx, np.int64)
    flag = np.empty(npx, np.int64)
    b_ig = np.empty((hh + 1) * (ww + 1), np.int32)
    b_ip = np.empty((hh + 1) * (ww + 1), np.int32)
    lim = w * w + w
    cap = w + 1
    margin = (w if w > d else d) + 2
    for c in range(k):
        if ymax[c] < 0:
            continue
        r0 = max(0, ymin[c] - margin)
        r1 = min(hh, ymax[c] + margin + 1)
        c0 = max(0, xmin[c] - margin)
        c1 = min(ww, xmax[c] + margin + 1)
        h = r1 - r0
        wd = c1 - c0
        n2 = h * wd
        s = b_s[:n2].reshape((h, wd))
        ign = b_ign[:n2].reshape((h, wd))
        mp = b_mp[:n2].reshape((h, wd))  # predicted c (TP or FP)
        mg = b_mg[:n2].reshape((h, wd))  # true c (TP or FN)
        n_err = 0
        for y in range(h):
            for x in range(wd):
                a = g[r0 + y, c0 + x]
                b = p[r0 + y, c0 + x]
                ign[y, x] = a == k
                is_p = b == c
                is_g = a == c
                mp[y, x] = is_p
                mg[y, x] = is_g
                if is_p:
                    if is_g:
                        s[y, x] = 1
                    else:
                        s[y, x] = 2
                        n_err += 1
                elif is_g:
                    s[y, x] = 3
                    n_err += 1
                else:
                    s[y, x] = 0
        # ---- boundary errors: FP/FN within w of both TP and TN, grown by w, touching both contours
        bnd = b_bnd[:n2].reshape((h, wd))  # 1 = FP boundary, 2 = FN boundary
        bnd[:, :] = 0
        stack = b_stack[:n2]
        lab = b_lab[:n2].reshape((h, wd))
        if n_err > 0 and w > 0:
            vtp = b_v1[:n2].reshape((h, wd))
            vtn = b_v2[:n2].reshape((h, wd))
            _vdist(s, 1, 0, cap, vtp, vtn)
            naive = b_naive[:n2].reshape((h, wd))
            naive[:, :] = 0
            n_naive = 0
            for y in range(h):
                for x in range(wd):
                    v = s[y, x]
                    if v >= 2 and _near(vtp, y, x, w, lim) and _near(vtn, y, x, w, lim):
                        naive[y, x] = v - 1
                        n_naive += 1
            if n_naive > 0:
                vfp = b_v1[:n2].reshape((h, wd))
                vfn = b_v2[:n2].reshape((h, wd))
                _vdist(naive, 1, 2, cap, vfp, vfn)
                cand = b_cand[:n2].reshape((h, wd))
                cand[:, :] = 0
                for y in range(h):
                    for x in range(wd):
                        v = s[y, x]
                        if v == 2 and _near(vfp, y, x, w, lim):
                            cand[y, x] = 1
                        elif v == 3 and _near(vfn, y, x, w, lim):
                            cand[y, x] = 2
                lab[:, :] = 0
                n = 0
                for y in range(h):
                    for x in range(wd):
                        if cand[y, x] == 0 or lab[y, x] != 0:
                            continue
                        n += 1
                        count = _flood(cand, lab, n, y, x, stack)
                        touch_tp = False
                        touch_tn = False
                        for i in range(count):
                            q = stack[i]
                            qy = q // wd
                            qx = q - qy * wd
                            for dy in range(-1, 2):
                                yy = qy + dy
                                if yy < 0 or yy >= h:
                                    continue
                                for dx in range(-1, 2):
                                    xx = qx + dx
                                    if xx < 0 or xx >= wd:
                                        continue
                                    t = s[yy, xx]
                                    if t == 1:
                                        touch_tp = True
                                    elif t == 0:
                                        touch_tn = True
                            if touch_tp and touch_tn:
                                break
                        if (touch_tp and touch_tn) or skip[c]:
                            v = cand[y, x]
                            for i in range(count):
                                q = stack[i]
                                bnd[q // wd, q % wd] = v
        # ---- extent / segment errors and objects: 8-connected predicted and true segments,
        # labelled as runs (union-find over the runs of consecutive rows)
        row = out[c]
        n_runs, n_comp = _label_runs(mp, ry, rx0, rx1, row_start, parent, comp)
        cnt[:n_comp] = 0  # TP pixels of each predicted segment
        flag[:n_comp] = 0  # 1 = holds an evaluated segment-error pixel (an invented object)
        for i in range(n_runs):
            y = ry[i]
            for x in range(rx0[i], rx1[i] + 1):
                if s[y, x] == 1:
                    cnt[comp[i]] += 1
        for i in range(n_runs):
            y = ry[i]
            j = comp[i]
            for x in range(rx0[i], rx1[i] + 1):
                if s[y, x] != 2 or ign[y, x] == 1:
                    continue
                if bnd[y, x] == 1:
                    row[FP_B] += 1
                    fp_kind[r0 + y, c0 + x] = 1
                elif cnt[j] > 0:
                    row[FP_E] += 1
                    fp_kind[r0 + y, c0 + x] = 2
                else:
                    row[FP_S] += 1
                    fp_kind[r0 + y, c0 + x] = 3
                    flag[j] = 1
        for j in range(n_comp):
            row[INVENTED] += flag[j]
        n_runs, n_comp = _label_runs(mg, ry, rx0, rx1, row_start, parent, comp)
        cnt[:n_comp] = 0  # TP pixels of each true segment
        size[:n_comp] = 0
        for i in range(n_runs):
            y = ry[i]
            j = comp[i]
            size[j] += rx1[i] - rx0[i] + 1
            for x in range(rx0[i], rx1[i] + 1):
                if s[y, x] == 1:
                    cnt[j] += 1
        for i in range(n_runs):
            y = ry[i]
            j = comp[i]
            for x in range(rx0[i], rx1[i] + 1):
                if s[y, x] != 3:
                    continue
                if bnd[y, x] == 2:
                    row[FN_B] += 1
                    fn_kind[r0 + y, c0 + x] = 1
                elif cnt[j] > 0:
                    row[FN_E] += 1
                    fn_kind[r0 + y, c0 + x] = 2
                else:
                    row[FN_S] += 1
                    fn_kind[r0 + y, c0 + x] = 3
        for j in range(n_comp):
            tp = cnt[j]
            count = size[j]
            row[TP] += tp
            row[GT_OBJ] += 1
            if tp > 0:
                row[FOUND] += 1
            b = 0
            while b < nb - 1 and count >= thresholds[b]:
                b += 1
            row[NUM_BASE + 4 * b] += 1
            row[NUM_BASE + 4 * b + 2] += count
            row[NUM_BASE + 4 * b + 3] += tp
            if tp > 0:
                row[NUM_BASE + 4 * b + 1] += 1
        # ---- Boundary IoU and Trimap IoU (square window of half-size d; outside the image is
        # neither "in" nor "out": cv2's erosion border)
        ig = b_ig[: (h + 1) * (wd + 1)].reshape((h + 1, wd + 1))
        ip = b_ip[: (h + 1) * (wd + 1)].reshape((h + 1, wd + 1))
        _integral(mg, ig)
        _integral(mp, ip)
        for y in range(h):
            gy = r0 + y
            ya = y - d if y - d > 0 else 0
            yb = y + d if y + d < h - 1 else h - 1
            rows = min(gy + d, hh - 1) - max(gy - d, 0) + 1
            for x in range(wd):
                v = s[y, x]
                if v == 0 or ign[y, x] == 1:
                    continue
                gx = c0 + x
                xa = x - d if x - d > 0 else 0
                xb = x + d if x + d < wd - 1 else wd - 1
                area = rows * (min(gx + d, ww - 1) - max(gx - d, 0) + 1)
                cg = ig[yb + 1, xb + 1] - ig[ya, xb + 1] - ig[yb + 1, xa] + ig[ya, xa]
                cp = ip[yb + 1, xb + 1] - ip[ya, xb + 1] - ip[yb + 1, xa] + ip[ya, xa]
                is_g = v == 1 or v == 3
                is_p = v == 1 or v == 2
                gint = is_g and cg < area
                pint = is_p and cp < area
                gd = cg > 0 and cg < area
                if gint and pint:
                    row[BI_I] += 1
                if gint or pint:
                    row[BI_U] += 1
                if gint and is_p:
                    row[TRI_I] += 1
                if gint or (gd and is_p):
                    row[TRI_U] += 1


_compiled = None
_lock = threading.Lock()


def compiled():
    """The numba-compiled kernel (compiled once per process, cached on disk), or None without numba
    (``SEGVIZ_NO_NUMBA=1`` or numba not installed: the plain-Python kernel gives the same numbers)."""
    global _compiled
    with _lock:
        if _compiled is None:
            from segviz import kernels

            if not kernels.numba_available():
                return None
            import numba

            jit = numba.njit(nogil=True, cache=True)
            g = globals()
            for name in ("_vdist", "_near", "_flood", "_find", "_label_runs", "_integral"):
                g[name] = jit(g[name])
            _compiled = jit(anatomy_image)
        return _compiled
