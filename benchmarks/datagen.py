"""Synthetic, deterministic label-map datasets for the evaluation benchmark.

Three kinds, each shaped like a public benchmark's *label files* (not its photos):

* ``cityscapes``: mode-L PNGs 2048x1024, train ids 0..18 + 255 void. Street scenes built from
  polygons: blocky skyline, trees, road converging to a vanishing point, sidewalks, terrain strips,
  fences, poles carrying signs and lights, cars/trucks/buses scaled by perspective, people, riders on
  bikes, and void (255) for the ego-vehicle hood and a few unlabeled objects.
* ``voc``: mode-P (palette) PNGs about 500x375, ids 0..20 + 255; 1-4 blob/box objects on background
  with VOC's 5-px void band along every object outline.
* ``ade``: mode-L PNGs about 512x512, ids 1..150 (0 = "other", ignored); indoor or outdoor layout
  (ceiling/wall/floor or sky/building/ground) plus 5-35 objects whose classes follow ADE's
  frequency order (Zipf over the id).

Predictions are drawn from the same shapes with *coherent* mistakes, as a segmentation network makes
them: every outline wobbles (densified vertices with smoothed noise) and shifts by a few pixels,
whole regions take a confusable class (sidewalk->road, truck->car, cat->dog, ...), small things are
missed, and a few false-positive blobs appear. About 85 % of the valid pixels end up correct.

Everything is written with Pillow's default PNG settings; every pair draws its randomness from its
own ``numpy.random.default_rng((kind seed, index))``, so a dataset is byte-for-byte reproducible and
pair ``i`` is the same whatever the dataset size.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

VERSION = 6  # bump when the generator changes (invalidates cached datasets)
KIND_SEED = {"cityscapes": 1001, "voc": 2002, "ade": 3003}
PRESET = {"cityscapes": "cityscapes", "voc": "voc", "ade": "ade20k"}

# ----------------------------------------------------------------------------- geometry helpers


def densify(pts: np.ndarray, step: float) -> np.ndarray:
    """Closed polygon with extra vertices every ``step`` pixels along its edges."""
    pts = np.asarray(pts, dtype=np.float64)
    out = []
    for a, b in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        n = max(1, int(np.hypot(*(b - a)) // step))
        t = np.arange(n)[:, None] / n
        out.append(a + (b - a) * t)
    return np.concatenate(out)


def wobble(rng: np.random.Generator, pts: np.ndarray, sigma: float, shift: float) -> np.ndarray:
    """The outline a network would predict: smoothed per-vertex noise plus a small translation."""
    d = densify(pts, step=max(6.0, 6 * sigma))
    noise = rng.normal(0.0, sigma, d.shape)
    noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, -1, 0)) / np.sqrt(3)
    return d + noise + rng.normal(0.0, shift, 2)


def blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, n: int = 18) -> np.ndarray:
    """Irregular star-shaped polygon (tree crown, animal, furniture...)."""
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.7, 1.0, n)
    r = (r + np.roll(r, 1) + np.roll(r, -1)) / 3
    return np.stack([cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)], axis=1)


def box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def draw(img: Image.Image, shapes, *, pred_rng: np.random.Generator | None = None, swap=None) -> None:
    """Paint ``shapes`` (class, points, spec) in order. With ``pred_rng``: the prediction's version
    (void shapes skipped, classes possibly swapped or dropped, outlines wobbled)."""
    d = ImageDraw.Draw(img)
    for cls, pts, spec in shapes:
        if pred_rng is None:
            d.polygon(np.round(pts).ravel().tolist(), fill=int(cls))
            if spec.get("outline") is not None:
                d.polygon(np.round(pts).ravel().tolist(), outline=spec["outline"], width=spec["width"])
            continue
        if spec.get("void") or pred_rng.random() < spec.get("drop", 0.0):
            continue
        if pred_rng.random() < spec.get("swap", 0.0):
            cls = swap(pred_rng, cls)
        ext = np.ptp(pts, axis=0)
        big, small = float(ext.max()), float(ext.min())
        sigma = spec.get("sigma", min(1.0 + 0.006 * big, 1.0 + 0.1 * small))
        shift = spec.get("shift", min(1.0 + 0.01 * big, 1.0 + 0.15 * small))
        d.polygon(np.round(wobble(pred_rng, pts, sigma, shift)).ravel().tolist(), fill=int(cls))


# ----------------------------------------------------------------------------- Cityscapes-like
CS_SWAP = {
    0: [1], 1: [0, 9], 2: [3, 8, 10], 3: [2, 4], 4: [3, 2, 8], 5: [2, 7], 6: [5, 7], 7: [5, 6],
    8: [9, 2], 9: [8, 1], 10: [2, 8], 11: [12, 2], 12: [11], 13: [14, 15], 14: [13, 15],
    15: [14, 13, 16], 16: [15, 14], 17: [18, 12], 18: [17, 11],
}  # fmt: skip


def cityscapes_scene(rng: np.random.Generator, w: int = 2048, h: int = 1024):
    """List of (train id, polygon, spec) painted far to near; background is sky (10)."""
    shapes = []
    hy = rng.uniform(390, 520)  # horizon
    vx = rng.uniform(0.38, 0.62) * w  # vanishing point
    big = {"swap": 0.0}
    # skyline: blocks of buildings (and some walls) from the left edge to the right one
    x = -20.0
    while x < w + 20:
        bw = rng.uniform(70, 320) * (0.5 + abs(x - vx) / w)
        top = hy - rng.uniform(60, hy - 20) * (0.35 + 0.9 * abs(x - vx) / w)
        cls = 2 if rng.random() < 0.9 else 3
        pts = box(x, max(top, 5), x + bw + 2, hy + 60)
        if rng.random() < 0.3:  # pitched roof
            pts = np.array(
                [
                    [x, top + 40],
                    [x + bw / 2, top - 30],
                    [x + bw + 2, top + 40],
                    [x + bw + 2, hy + 60],
                    [x, hy + 60],
                ]
            )
        shapes.append((cls, pts, {"swap": 0.06, "sigma": 2.0, "shift": 3.0}))
        x += bw
    # trees: crowns with trunks
    for _ in range(rng.integers(2, 8)):
        cx = rng.uniform(0, w)
        cy = hy - rng.uniform(40, 320)
        r = rng.uniform(60, 260)
        shapes.append((8, blob(rng, cx, cy, r * rng.uniform(0.8, 1.3), r, 24), {"swap": 0.1}))
    # ground: sidewalk everywhere below the horizon, terrain strips, then the road on top
    shapes.append((1, box(-10, hy + 25, w + 10, h + 10), {"swap": 0.07, "sigma": 3.0}))
    for side in (-1, 1):
        if rng.random() < 0.5:
            edge = 0 if side < 0 else w
            pts = np.array(
                [
                    [vx + side * 80, hy + 28],
                    [edge, hy + rng.uniform(60, 200)],
                    [edge, hy + rng.uniform(220, 420)],
                ]
            )
            shapes.append((9, pts, {"swap": 0.3}))
    half = rng.uniform(0.45, 0.75) * w
    road = np.array(
        [
            [vx - 25, hy + 25],
            [vx + 25, hy + 25],
            [vx + half + rng.uniform(0, 300), h + 10],
            [vx - half - rng.uniform(0, 300), h + 10],
        ]
    )
    shapes.append((0, road, {"swap": 0.05, "sigma": 4.0, "shift": 6.0}))
    # fences and walls along the sidewalk
    for _ in range(rng.integers(0, 3)):
        side = rng.choice([-1, 1])
        x0 = vx + side * rng.uniform(150, 400)
        x1 = x0 + side * rng.uniform(200, 700)
        y0, y1 = hy + 30, hy + 30 + abs(x1 - vx) * 0.25
        pts = np.array([[x0, y0 - 40], [x1, y1 - 120], [x1, y1], [x0, y0]])
        shapes.append((int(rng.choice([4, 4, 3])), pts, {"swap": 0.3, "drop": 0.1}))
    # things far to near: poles (+ signs, lights), vehicles, people, riders
    things = []
    for _ in range(rng.integers(3, 9)):
        things.append(("pole", rng.uniform(hy + 30, h - 80)))
    for _ in range(rng.integers(2, 11)):
        things.append(("vehicle", rng.uniform(hy + 20, h - 40)))
    for _ in range(rng.integers(0, 9)):
        things.append(("person", rng.uniform(hy + 20, h - 30)))
    for _ in range(rng.integers(0, 3)):
        things.append(("rider", rng.uniform(hy + 20, h - 30)))
    for kind, yb in sorted(things, key=lambda t: t[1]):
        s = (yb - hy) / (h - hy)  # 0 at the horizon, 1 at the bottom
        if kind == "pole":
            side = rng.choice([-1, 1])
            xb = vx + side * (80 + s * rng.uniform(500, 1300))
            ph, pw = (yb - hy) * rng.uniform(2.5, 4.5) + 40, max(5.0, 28 * s)
            shapes.append((5, box(xb - pw / 2, yb - ph, xb + pw / 2, yb), {"swap": 0.15, "drop": 0.15}))
            if rng.random() < 0.5:
                sw = max(10.0, 90 * s)
                shapes.append(
                    (
                        7,
                        box(xb - sw / 2, yb - ph - sw * 0.3, xb + sw / 2, yb - ph + sw * 0.7),
                        {"swap": 0.2, "drop": 0.2},
                    )
                )
            elif rng.random() < 0.5:
                lw = max(8.0, 45 * s)
                shapes.append(
                    (
                        6,
                        box(xb - lw / 2, yb - ph, xb + lw / 2, yb - ph + 2.6 * lw),
                        {"swap": 0.2, "drop": 0.2},
                    )
                )
        elif kind == "vehicle":
            cls = int(rng.choice([13] * 16 + [14, 15, 16]))
            vw = (30 + s * rng.uniform(300, 650)) * (1.3 if cls != 13 else 1.0)
            vh = vw * (rng.uniform(0.45, 0.6) if cls == 13 else rng.uniform(0.8, 1.0))
            xc = vx + rng.uniform(-1, 1) * (60 + s * 0.7 * w)
            body = np.array([
                [xc - vw / 2, yb], [xc - vw / 2, yb - vh * 0.55], [xc - vw * 0.3, yb - vh * 0.6],
                [xc - vw * 0.2, yb - vh], [xc + vw * 0.25, yb - vh], [xc + vw * 0.35, yb - vh * 0.6],
                [xc + vw / 2, yb - vh * 0.5], [xc + vw / 2, yb],
            ])  # fmt: skip
            if cls != 13:
                body = box(xc - vw / 2, yb - vh, xc + vw / 2, yb)
            shapes.append((cls, body, {"swap": 0.1 if cls == 13 else 0.35, "drop": 0.05 if s > 0.2 else 0.3}))
        else:
            ph = 20 + s * rng.uniform(250, 520)
            xc = vx + rng.uniform(-1, 1) * (80 + s * 0.9 * w)
            pw = ph * 0.32
            person = np.array([
                [xc - pw * 0.15, yb - ph], [xc + pw * 0.15, yb - ph], [xc + pw * 0.2, yb - ph * 0.85],
                [xc + pw * 0.5, yb - ph * 0.75], [xc + pw * 0.45, yb - ph * 0.4], [xc + pw * 0.3, yb],
                [xc - pw * 0.3, yb], [xc - pw * 0.45, yb - ph * 0.4], [xc - pw * 0.5, yb - ph * 0.75],
                [xc - pw * 0.2, yb - ph * 0.85],
            ])  # fmt: skip
            if kind == "rider":
                bike = int(rng.choice([17, 18]))
                bw = ph * 0.9
                shapes.append(
                    (bike, blob(rng, xc, yb - bw * 0.25, bw / 2, bw * 0.25, 14), {"swap": 0.3, "drop": 0.1})
                )
                shapes.append((12, person - [0, bw * 0.3], {"swap": 0.4, "drop": 0.1}))
            else:
                shapes.append((11, person, {"swap": 0.1, "drop": 0.1 if s > 0.2 else 0.35}))
    # void: unlabeled objects and the ego-vehicle hood (ground truth only)
    for _ in range(rng.integers(0, 4)):
        cx, cy = rng.uniform(0, w), rng.uniform(hy, h - 100)
        shapes.append((255, blob(rng, cx, cy, rng.uniform(15, 80), rng.uniform(15, 80), 10), {"void": True}))
    hood_top = h - rng.uniform(70, 140)
    xs = np.linspace(-10, w + 10, 24)
    hood = np.concatenate(
        [np.stack([xs, hood_top + 0.00004 * (xs - w / 2) ** 2], 1), [[w + 10, h + 10], [-10, h + 10]]]
    )
    shapes.append((255, hood, {"void": True}))
    return shapes, big


def cs_swap(rng, cls):
    return int(rng.choice(CS_SWAP[int(cls)]))


# ----------------------------------------------------------------------------- VOC-like
VOC_GROUPS = [[8, 12, 10, 13, 17], [2, 14], [6, 7, 19], [9, 11, 18], [1, 4, 3], [5, 20, 16], [15]]


def voc_swap(rng, cls):
    for g in VOC_GROUPS:
        if cls in g and len(g) > 1:
            return int(rng.choice([c for c in g if c != cls]))
    return 0 if rng.random() < 0.5 else int(rng.integers(1, 21))


def voc_scene(rng: np.random.Generator):
    w, h = [(500, 375), (375, 500), (500, 333), (500, 400), (333, 500), (500, 375)][rng.integers(0, 6)]
    shapes = []
    n = int(rng.choice([1, 1, 1, 2, 2, 3, 4]))
    for _ in range(n):
        cls = 15 if rng.random() < 0.3 else int(rng.integers(1, 21))
        r = rng.uniform(0.15, 0.45) * min(w, h) * (1.4 if n == 1 else 1.0)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.25, 0.85) * h
        if rng.random() < 0.5:
            pts = blob(rng, cx, cy, r * rng.uniform(0.6, 1.4), r, int(rng.integers(14, 36)))
        else:
            q = box(cx - r, cy - r * 0.7, cx + r, cy + r * 0.7)
            pts = densify(q, 30) + rng.normal(0, 4, (len(densify(q, 30)), 2))
        void = rng.random() < 0.05  # "difficult" object: all void
        shapes.append(
            (
                255 if void else cls,
                pts,
                {
                    "void": void,
                    "swap": 0.35,
                    "drop": 0.05,
                    "outline": 255,
                    "width": 5,
                    "sigma": 2.0 + 0.02 * r,
                    "shift": 2.0 + 0.04 * r,
                },
            )
        )
    for _ in range(rng.integers(0, 2)):  # false positives live in the prediction only
        pass
    return (w, h), shapes


# ----------------------------------------------------------------------------- ADE-like
ADE_WEIGHTS = 1.0 / np.arange(1, 151) ** 0.9
ADE_WEIGHTS /= ADE_WEIGHTS.sum()


def ade_swap(rng, cls):
    if rng.random() < 0.5:
        return int(rng.choice([1, 2, 4, 5, 6]))
    return int(np.clip(cls + rng.integers(-15, 16), 1, 150))


def ade_scene(rng: np.random.Generator):
    w, h = [(512, 512), (512, 512), (512, 384), (384, 512), (512, 683)][rng.integers(0, 5)]
    shapes = []
    indoor = rng.random() < 0.5
    _top_cls, mid_cls = (6, 1) if indoor else (3, int(rng.choice([2, 5])))
    low_cls = 4 if indoor else int(rng.choice([7, 10, 12, 14]))
    t1, t2 = rng.uniform(0.1, 0.35) * h, rng.uniform(0.55, 0.8) * h
    xs = np.linspace(-5, w + 5, 12)
    band = lambda y0, jag: np.stack([xs, y0 + rng.normal(0, jag, len(xs))], 1)  # noqa: E731
    shapes.append(
        (
            mid_cls,
            np.concatenate([band(t1, 6 if indoor else 30), [[w + 5, h + 5], [-5, h + 5]]]),
            {"swap": 0.1, "sigma": 2.0},
        )
    )
    shapes.append(
        (low_cls, np.concatenate([band(t2, 4), [[w + 5, h + 5], [-5, h + 5]]]), {"swap": 0.1, "sigma": 2.0})
    )
    n = int(rng.integers(5, 36))
    sizes = np.sort(rng.uniform(0.04, 0.45, n) ** 1.5)[::-1] * max(w, h)
    for r in sizes:
        cls = int(rng.choice(150, p=ADE_WEIGHTS)) + 1
        cx, cy = rng.uniform(0, w), rng.uniform(0.15, 1.0) * h
        if rng.random() < 0.5:
            pts = blob(rng, cx, cy, r * rng.uniform(0.5, 1.5), r, int(rng.integers(8, 24)))
        else:
            a = rng.uniform(-0.2, 0.2)
            q = box(-r, -r * rng.uniform(0.3, 1.2), r, r * rng.uniform(0.3, 1.2))
            pts = q @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + [cx, cy]
        shapes.append(
            (
                cls,
                pts,
                {
                    "swap": 0.12,
                    "drop": 0.3 if r < 25 else 0.05,
                    "sigma": 1.0 + 0.02 * r,
                    "shift": 1.0 + 0.03 * r,
                },
            )
        )
    for _ in range(rng.integers(0, 4)):  # "other" (0): unlabeled stuff, ground truth only
        shapes.append(
            (
                0,
                blob(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(8, 50), rng.uniform(8, 50), 10),
                {"void": True},
            )
        )
    return (w, h), shapes


# ----------------------------------------------------------------------------- writing
def voc_palette() -> list[int]:
    from segviz.presets import VOC  # the devkit colour map

    pal = [0] * 768
    for cid, _, rgb, _ in VOC:
        pal[3 * cid : 3 * cid + 3] = rgb
    return pal


def make_pair(kind: str, index: int):
    """(gt image, pred image, relative stem for gt, relative stem for pred) of pair ``index``."""
    rng = np.random.default_rng((KIND_SEED[kind], index))
    prng = np.random.default_rng((KIND_SEED[kind], index, 1))
    if kind == "cityscapes":
        shapes, _ = cityscapes_scene(rng)
        gt = Image.new("L", (2048, 1024), 10)
        pred = Image.new("L", (2048, 1024), 10)
        draw(gt, shapes)
        draw(pred, shapes, pred_rng=prng, swap=cs_swap)
        fp = [
            (
                int(prng.integers(0, 19)),
                blob(
                    prng,
                    prng.uniform(0, 2048),
                    prng.uniform(300, 1000),
                    prng.uniform(20, 120),
                    prng.uniform(20, 120),
                    12,
                ),
                {},
            )
            for _ in range(prng.integers(0, 4))
        ]
        draw(pred, [(c, p, {"swap": 0.0}) for c, p, _ in fp], pred_rng=prng, swap=cs_swap)
        city = ("frankfurt", "lindau", "munster")[index % 3]
        stem = f"{city}/{city}_{index // 3:06d}_{19 + index % 7:06d}"
        return gt, pred, stem + "_gtFine_labelTrainIds", "model/" + stem + "_leftImg8bit"
    if kind == "voc":
        (w, h), shapes = voc_scene(rng)
        gt = Image.new("P", (w, h), 0)
        pred = Image.new("P", (w, h), 0)
        pal = voc_palette()
        gt.putpalette(pal)
        pred.putpalette(pal)
        draw(gt, shapes)
        draw(pred, shapes, pred_rng=prng, swap=voc_swap)
        if prng.random() < 0.3:
            fp = blob(
                prng, prng.uniform(0, w), prng.uniform(0, h), prng.uniform(15, 70), prng.uniform(15, 70), 12
            )
            draw(pred, [(int(prng.integers(1, 21)), fp, {})], pred_rng=prng, swap=voc_swap)
        stem = f"{2007 + index % 6}_{index:06d}"
        return gt, pred, stem, stem
    if kind == "ade":
        (w, h), shapes = ade_scene(rng)
        gt = Image.new("L", (w, h), 1)
        pred = Image.new("L", (w, h), 1)
        draw(gt, shapes)
        draw(pred, shapes, pred_rng=prng, swap=ade_swap)
        stem = f"ADE_val_{index + 1:08d}"
        return gt, pred, stem, stem
    raise ValueError(kind)


def _write_range(args) -> int:
    kind, root, lo, hi = args
    root = Path(root)
    for i in range(lo, hi):
        gt, pred, gstem, pstem = make_pair(kind, i)
        for img, rel in ((gt, root / "gt" / f"{gstem}.png"), (pred, root / "pred" / f"{pstem}.png")):
            rel.parent.mkdir(parents=True, exist_ok=True)
            img.save(rel)  # Pillow defaults
    return hi - lo


def classes_csv(kind: str) -> str:
    from segviz import presets

    rows = presets.PRESETS[PRESET[kind]]
    lines = ["id,name,r,g,b,ignore"]
    lines += [f"{cid},{name},{r},{g},{b},{int(ign)}" for cid, name, (r, g, b), ign in rows]
    return "\n".join(lines) + "\n"


def ensure_dataset(out: Path, kind: str, n: int, *, jobs: int = 2, log=print) -> Path:
    """The dataset folder for ``n`` pairs of ``kind`` under ``out``, generated once and cached."""
    root = out / f"{kind}-{n}"
    meta = {"version": VERSION, "kind": kind, "pairs": n}
    marker = root / "dataset.json"
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == meta:
                return root
        except ValueError:
            pass
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log(f"generating {n} {kind}-like pairs in {root} ...")
    chunks = [(kind, str(root), lo, min(n, lo + 25)) for lo in range(0, n, 25)]
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(_write_range, chunks))
    (root / "classes.csv").write_text(classes_csv(kind))
    marker.write_text(json.dumps(meta))
    return root


SCALE_VERSION = 1
SCALE_MODELS = ("model_a", "model_b")


def _scale_range(args) -> int:
    """Distinct pool pairs ``lo..hi`` of a scale dataset: ADE-like scenes shrunk to ``size`` (nearest
    neighbour), one ground truth and one prediction per model (model_b with its own mistakes)."""
    root, lo, hi, size = args
    root = Path(root)
    for i in range(lo, hi):
        rng = np.random.default_rng((KIND_SEED["ade"], i))
        (w, h), shapes = ade_scene(rng)
        gt = Image.new("L", (w, h), 1)
        draw(gt, shapes)
        gt.resize(size, Image.NEAREST).save(root / "pool" / f"gt-{i}.png")
        for m, model in enumerate(SCALE_MODELS):
            pred = Image.new("L", (w, h), 1)
            draw(pred, shapes, pred_rng=np.random.default_rng((KIND_SEED["ade"], i, 1 + m)), swap=ade_swap)
            pred.resize(size, Image.NEAREST).save(root / "pool" / f"{model}-{i}.png")
    return hi - lo


def ensure_scale_dataset(
    out: Path, n: int, *, size: tuple[int, int] = (128, 96), distinct: int = 2000, jobs: int = 2, log=print
) -> Path:
    """An ADE-like dataset of ``n`` images for the scale benchmark (issue #17), generated once.

    ``distinct`` pairs are drawn (``size`` masks, ids 1..150, 0 = other) into ``pool/``; image ``i``
    is a hard link to pool pair ``i % distinct`` (``gt/ADE_train_<i>.png``,
    ``pred/model_a/...``, ``pred/model_b/...``), so 100,000 images take ~2 x 3 x distinct files of
    disk. segviz never short-circuits on identical content (a pair is keyed by its path, size and
    modification time, and every file is decoded), so the links cost a cold evaluation what distinct
    files would; only the per-image numbers repeat with period ``distinct``.
    """
    distinct = min(distinct, n)
    root = out / f"scale-{n}-{size[0]}x{size[1]}"
    meta = {"version": SCALE_VERSION, "pairs": n, "size": list(size), "distinct": distinct}
    marker = root / "dataset.json"
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == meta:
                return root
        except ValueError:
            pass
    shutil.rmtree(root, ignore_errors=True)
    (root / "pool").mkdir(parents=True)
    log(f"generating {n} scale pairs ({distinct} distinct, {size[0]}x{size[1]}) in {root} ...")
    step = 50
    chunks = [(str(root), lo, min(distinct, lo + step), size) for lo in range(0, distinct, step)]
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(_scale_range, chunks))
    folders = {"gt": root / "gt", **{m: root / "pred" / m for m in SCALE_MODELS}}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for i in range(n):
        for src, folder in folders.items():
            os.link(root / "pool" / f"{src}-{i % distinct}.png", folder / f"ADE_train_{i:08d}.png")
    (root / "classes.csv").write_text(classes_csv("ade"))
    marker.write_text(json.dumps(meta))
    return root


def pixel_accuracy(root: Path, kind: str, limit: int = 40) -> float:
    """Share of valid ground-truth pixels predicted correctly over the first ``limit`` pairs."""
    ignore = 0 if kind == "ade" else 255
    gts = sorted((root / "gt").rglob("*.png"))[:limit]
    preds = sorted((root / "pred").rglob("*.png"))[:limit]
    ok = tot = 0
    for g, p in zip(gts, preds, strict=True):
        a, b = np.asarray(Image.open(g)), np.asarray(Image.open(p))
        v = a != ignore
        ok += int((a[v] == b[v]).sum())
        tot += int(v.sum())
    return ok / max(tot, 1)


if __name__ == "__main__":  # quick visual/accuracy check: python benchmarks/datagen.py OUT
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/segviz-bench-gen")
    for k in ("cityscapes", "voc", "ade"):
        r = ensure_dataset(out, k, 40, jobs=os.cpu_count() or 1)
        print(k, f"pixel accuracy {pixel_accuracy(r, k):.3f}")
