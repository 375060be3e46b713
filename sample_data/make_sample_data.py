#!/usr/bin/env python3
"""Generate the synthetic street-scene sample dataset bundled with segviz.

Run ``python sample_data/make_sample_data.py`` (optionally ``--out DIR`` and
``--jobs N``).  The script deletes and rewrites ``images/``, ``gt/``, ``pred/``,
``conf/``, ``prob/``, ``unlabelled/`` and ``classes.csv`` in the output folder (by default the folder holding this
script) and touches nothing else.  Only numpy and Pillow are used and the output is byte-for-byte
deterministic: every image draws all its randomness from its own
``numpy.random.default_rng`` seeded with a fixed number, PNGs are written with
Pillow's defaults, JPEGs carry no metadata and ``.npz`` files fixed timestamps.

Design
------
1. **Scene sampling** (:func:`sample_street`).  Each image is a street seen by a
   pinhole camera mounted on a car (:class:`Camera`).  The road runs away from
   the camera towards a vanishing point; on both sides there is a sidewalk and
   a row of building blocks of varied height and roofline, sometimes broken by
   a set-back gap of grass behind a hedge, fence or wall.  Things (cars, trucks,
   buses, a tram, people, riders, parked bikes, poles carrying lamps, traffic
   lights and signs, trees, unlabeled street furniture) are placed in 3-D
   world coordinates (metres; X to the right, Y up, Z forward).  The result is
   a frozen :class:`Street` description; nothing is drawn yet.

2. **Rendering** (:func:`render_street`).  A per-image :class:`Canvas` keeps a
   label map, an RGB albedo image, a depth buffer and an instance map.  Stuff
   (sky, ground, facades) is computed per pixel by casting rays against
   planes; things are projected polygons painted far to near with a depth
   test.  Every primitive writes its class id *and* a natural-looking colour
   (asphalt with markings, facades with window grids, leafy trees, car bodies
   with glass and lights, ...), so the photo is synthesised from the same
   geometry as the ground truth rather than by recolouring the label map.

3. **Photo finishing** (:func:`finish_photo`).  Distance haze, exposure and
   white-balance jitter, vignetting, a light blur and sensor grain.

4. **Ground-truth void** (:func:`ground_truth`).  Unlabeled objects and the
   ego-vehicle hood are void (255) from the start; some images also get a thin
   void band along the outlines of things.

5. **Predictions** (:func:`predict`).  Two simulated models (:data:`MODELS`)
   corrupt the clean label map with spatially coherent mistakes: a smooth
   displacement field that shifts boundaries by a few pixels, class-specific
   dilation/erosion (numpy shifted maxima), region-wise confusions driven by
   low-frequency noise (sidewalk->road, terrain->vegetation, ...), whole
   instances relabelled (truck->car, rider->person, bicycle->motorcycle),
   small or distant things missed (filled in from the surrounding classes),
   a few false-positive blobs, and on a few chosen images a gross failure.
   Void pixels of the ground truth receive a plausible class too.

6. **Confidence** (:func:`confidence`, :func:`probabilities`).  Each model's
   top-1 confidence (``conf/MODEL/``, 8-bit), and for one model full
   probabilities (``prob/MODEL/``); ``unlabelled/`` holds a few more scenes with
   predictions and confidence but no ground truth.
"""

from __future__ import annotations

import argparse
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 512, 256
NUM_IMAGES = 24
NUM_UNLABELLED = 4  # extra scenes with predictions and confidence but no ground truth
BASE_SEED = 20_240_000
JPEG_QUALITY = 85
VOID = 255
FAR = 320.0  # metres: where the street blocks end

CLASSES = (
    (0, "road", (128, 64, 128)),
    (1, "sidewalk", (244, 35, 232)),
    (2, "building", (70, 70, 70)),
    (3, "wall", (102, 102, 156)),
    (4, "fence", (190, 153, 153)),
    (5, "pole", (153, 153, 153)),
    (6, "traffic light", (250, 170, 30)),
    (7, "traffic sign", (220, 220, 0)),
    (8, "vegetation", (107, 142, 35)),
    (9, "terrain", (152, 251, 152)),
    (10, "sky", (70, 130, 180)),
    (11, "person", (220, 20, 60)),
    (12, "rider", (255, 0, 0)),
    (13, "car", (0, 0, 142)),
    (14, "truck", (0, 0, 70)),
    (15, "bus", (0, 60, 100)),
    (16, "train", (0, 80, 100)),
    (17, "motorcycle", (0, 0, 230)),
    (18, "bicycle", (119, 11, 32)),
)
(
    ROAD,
    SIDEWALK,
    BUILDING,
    WALL,
    FENCE,
    POLE,
    TRAFFIC_LIGHT,
    TRAFFIC_SIGN,
    VEGETATION,
    TERRAIN,
    SKY,
    PERSON,
    RIDER,
    CAR,
    TRUCK,
    BUS,
    TRAIN,
    MOTORCYCLE,
    BICYCLE,
) = range(19)
THING_CLASSES = (
    POLE,
    TRAFFIC_LIGHT,
    TRAFFIC_SIGN,
    PERSON,
    RIDER,
    CAR,
    TRUCK,
    BUS,
    TRAIN,
    MOTORCYCLE,
    BICYCLE,
)

FACADE_COLOURS = (
    (196, 184, 160),
    (172, 167, 160),
    (152, 98, 78),
    (214, 204, 184),
    (126, 123, 120),
    (186, 162, 132),
    (160, 170, 176),
    (204, 186, 158),
    (176, 124, 96),
    (222, 218, 206),
)
CAR_COLOURS = (
    (30, 32, 36),
    (52, 54, 58),
    (150, 152, 156),
    (188, 190, 192),
    (222, 222, 218),
    (120, 22, 26),
    (26, 44, 92),
    (40, 66, 60),
    (96, 100, 108),
    (168, 150, 120),
)
CLOTHES = (
    (30, 30, 36),
    (48, 52, 70),
    (120, 26, 30),
    (34, 62, 110),
    (200, 196, 188),
    (90, 96, 60),
    (150, 120, 80),
    (70, 70, 74),
    (180, 70, 40),
    (20, 80, 70),
    (210, 180, 60),
    (100, 40, 90),
)
SKIN = ((232, 192, 160), (200, 150, 115), (150, 100, 70), (96, 64, 44))


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at X=0, height ``height`` above the road, looking along +Z."""

    focal: float
    height: float
    cx: float
    horizon: float

    def to_image(self, x, y, z):
        """Project world point(s) (metres) to image coordinates (pixels)."""
        return self.cx + self.focal * x / z, self.horizon + self.focal * (self.height - y) / z

    def scale(self, size: float, z: float) -> float:
        """Length in pixels of ``size`` metres seen face-on at depth ``z``."""
        return self.focal * size / z

    def min_visible_z(self, x: float, margin: float = 24.0) -> float:
        """Smallest depth at which a point at lateral position ``x`` is inside the frame."""
        room = (WIDTH + margin - self.cx) if x > 0 else (self.cx + margin)
        return max(3.5, self.focal * abs(x) / room)


Pixels = tuple[np.ndarray, np.ndarray]  # (rows, cols) of the pixels of a shape


def _bbox(xs, ys, pad: float):
    """Integer bounding box of points clipped to the frame, or None if empty."""
    x0 = max(int(np.floor(min(xs) - pad)), 0)
    x1 = min(int(np.ceil(max(xs) + pad)) + 1, WIDTH)
    y0 = max(int(np.floor(min(ys) - pad)), 0)
    y1 = min(int(np.ceil(max(ys) + pad)) + 1, HEIGHT)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _draw_pixels(xs, ys, pad: float, draw) -> Pixels:
    """Rasterise with Pillow inside the bounding box of the points; return pixel indices."""
    box = _bbox(xs, ys, pad)
    if box is None:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    x0, y0, x1, y1 = box
    img = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw(ImageDraw.Draw(img), x0, y0)
    rows, cols = np.nonzero(np.asarray(img))
    return rows + y0, cols + x0


def polygon_pixels(points) -> Pixels:
    """Pixels covered by an image-space polygon given as (x, y) pairs."""
    pts = np.clip(np.asarray(points, dtype=np.float64), -1e4, 1e4)
    xs, ys = pts[:, 0], pts[:, 1]
    return _draw_pixels(
        xs,
        ys,
        1,
        lambda d, ox, oy: d.polygon(
            [(float(x - ox), float(y - oy)) for x, y in zip(xs, ys, strict=True)], fill=255
        ),
    )


def line_pixels(points, width: float) -> Pixels:
    """Pixels covered by an image-space polyline of the given width (at least 1 px)."""
    pts = np.clip(np.asarray(points, dtype=np.float64), -1e4, 1e4)
    xs, ys = pts[:, 0], pts[:, 1]
    w = max(1, round(width))
    return _draw_pixels(
        xs,
        ys,
        w + 1,
        lambda d, ox, oy: d.line(
            [(float(x - ox), float(y - oy)) for x, y in zip(xs, ys, strict=True)], fill=255, width=w
        ),
    )


def ellipse_pixels(cx: float, cy: float, rx: float, ry: float, ring: float | None = None) -> Pixels:
    """Pixels of a filled ellipse, or of its outline ``ring`` pixels wide."""
    rx, ry = max(rx, 0.5), max(ry, 0.5)

    def draw(d, ox, oy):
        box = [cx - rx - ox, cy - ry - oy, cx + rx - ox, cy + ry - oy]
        if ring is None:
            d.ellipse(box, fill=255)
        else:
            d.ellipse(box, outline=255, width=max(1, round(ring)))

    return _draw_pixels([cx - rx, cx + rx], [cy - ry, cy + ry], 1, draw)


def select(pix: Pixels, keep: np.ndarray) -> Pixels:
    """Subset of a pixel set."""
    return pix[0][keep], pix[1][keep]


def shift(arr: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``out[y, x] = arr[y - dy, x - dx]``, with ``fill`` where that falls outside."""
    out = np.full_like(arr, fill)
    h, w = arr.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = arr[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by ``radius`` steps of a 3x3 cross/square (alternating), via shifted maxima."""
    out = mask.copy()
    for step in range(radius):
        grown = out.copy()
        offsets = ((0, 1), (0, -1), (1, 0), (-1, 0))
        if step % 2:
            offsets += ((1, 1), (1, -1), (-1, 1), (-1, -1))
        for dy, dx in offsets:
            grown |= shift(out, dy, dx, False)
        out = grown
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion (dual of :func:`dilate`)."""
    return ~dilate(~mask, radius)


def smooth_noise(rng: np.random.Generator, cells_x: int, cells_y: int) -> np.ndarray:
    """Band-limited noise over the frame (about unit variance), bicubic-upsampled from a grid."""
    grid = rng.standard_normal((cells_y + 3, cells_x + 3)).astype(np.float32)
    big = np.asarray(Image.fromarray(grid).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
    return (big - big.mean()) / (big.std() + 1e-6)


def hash01(*ints) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per element of integer arrays."""
    h = np.uint64(1469598103934665603)
    with np.errstate(over="ignore"):  # wrap-around multiplication is the point of a hash
        for k, v in enumerate(ints):
            h = (h ^ np.asarray(v, dtype=np.int64).astype(np.uint64)) * np.uint64(1099511628211 + 2 * k)
            h = h ^ (h >> np.uint64(29))
    return (np.asarray(h) & np.uint64(0xFFFF)).astype(np.float32) / 65536.0


# --------------------------------------------------------------------------- scene description


@dataclass(frozen=True)
class Block:
    """A stretch ``z0..z1`` of one street side: a building, or a set-back gap in front of one."""

    z0: float
    z1: float
    height: float
    roof: str  # "flat", "gable" or "step"
    roof_extra: float  # ridge / step height in metres
    colour: tuple
    floor: float  # storey height
    bay: float  # window spacing
    seed: int
    gap: bool = False
    setback: float = 0.0
    back_height: float = 0.0
    back_colour: tuple = (0, 0, 0)
    edge: str = "none"  # what separates the gap from the sidewalk: none/hedge/fence/wall
    edge_height: float = 1.0


@dataclass(frozen=True)
class Side:
    """One side of the street; distances are absolute lateral offsets from the camera."""

    sign: int  # -1 left, +1 right
    curb: float
    facade: float
    blocks: tuple
    lit: float  # brightness of the sunlit / shaded facade
    verges: tuple  # (z0, z1) stretches of grass strip along the curb
    parking: bool


@dataclass(frozen=True)
class Thing:
    """A countable object at lateral position ``x`` and depth ``z`` (nearest face)."""

    kind: str
    x: float
    z: float
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Street:
    """Everything needed to render one image."""

    camera: Camera
    center: float
    half_width: float
    left: Side
    right: Side
    sky_top: tuple
    sky_horizon: tuple
    clouds: float
    fog: float
    sunny: bool
    asphalt: tuple
    pavement: tuple
    crosswalk: float | None
    rails: float | None
    end_wall: tuple | None  # (z, height, colour, seed) of a building closing the street
    hood: bool
    boundary_void: bool
    things: tuple


def _jitter(rng, colour, amount=10):
    """Colour with a little random variation."""
    return tuple(float(np.clip(c + rng.uniform(-amount, amount), 0, 255)) for c in colour)


def _grey_jitter(rng, colour, amount=10):
    """Colour made lighter or darker by a random amount, without changing its tint."""
    delta = rng.uniform(-amount, amount)
    return tuple(float(np.clip(c + delta, 0, 255)) for c in colour)


def sample_block(rng, z0, z1, gap_allowed) -> Block:
    """Random building block, or a gap with a building set back behind it."""
    roof = rng.choice(["flat", "flat", "gable", "step"])
    common = dict(
        z0=z0,
        z1=z1,
        height=rng.uniform(8, 26),
        roof=str(roof),
        roof_extra=rng.uniform(2, 6),
        colour=_jitter(rng, FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))]),
        floor=rng.uniform(2.9, 3.5),
        bay=rng.uniform(2.2, 3.6),
        seed=int(rng.integers(1 << 30)),
    )
    if gap_allowed and rng.random() < 0.3:
        edge = str(rng.choice(["none", "hedge", "fence", "wall"], p=[0.16, 0.28, 0.28, 0.28]))
        return Block(
            **common,
            gap=True,
            setback=rng.uniform(7, 22),
            back_height=rng.uniform(8, 22),
            back_colour=_jitter(rng, FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))]),
            edge=edge,
            edge_height=rng.uniform(0.8, 2.0),
        )
    return Block(**common)


def sample_side(rng, sign: int, curb: float, lit: float) -> Side:
    """One street side: sidewalk width, the sequence of blocks, grass verges."""
    facade = curb + rng.uniform(3.5, 6.0)
    blocks, z, previous_gap = [], 0.5, False
    while z < FAR:
        z1 = min(z + rng.uniform(9, 34), FAR) if FAR - z > 12 else FAR
        block = sample_block(rng, z, z1, gap_allowed=not previous_gap and z > 6 and z1 < FAR)
        blocks.append(block)
        previous_gap, z = block.gap, z1
    verges = ()
    if rng.random() < 0.45:
        start = rng.uniform(0, 10)
        verges = tuple((s, s + rng.uniform(8, 25)) for s in start + np.cumsum(rng.uniform(0, 30, 3)))
    return Side(
        sign=sign,
        curb=curb,
        facade=facade,
        blocks=tuple(blocks),
        lit=lit,
        verges=verges,
        parking=bool(rng.random() < 0.55),
    )


def sample_street(index: int) -> Street:
    """Complete random (but seeded) description of street scene number ``index``."""
    rng = np.random.default_rng(BASE_SEED + index)
    cam = Camera(
        focal=rng.uniform(360, 410),
        height=rng.uniform(1.3, 1.5),
        cx=rng.uniform(228, 288),
        horizon=rng.uniform(98, 116),
    )
    half = rng.uniform(4.6, 6.6)
    center = -0.3 * half + rng.uniform(-0.3, 0.3)
    sunny = bool(rng.random() < 0.6)
    sun_left = rng.random() < 0.5
    lit = (1.0, 0.66) if sunny else (0.92, 0.86)
    left = sample_side(rng, -1, half - center, lit[0] if sun_left else lit[1])
    right = sample_side(rng, +1, half + center, lit[1] if sun_left else lit[0])
    if sunny:
        sky_top, sky_horizon = _jitter(rng, (62, 112, 186), 12), _jitter(rng, (182, 204, 226), 8)
    else:
        sky_top, sky_horizon = _jitter(rng, (150, 158, 172), 10), _jitter(rng, (206, 210, 214), 6)
    street = dict(
        camera=cam,
        center=center,
        half_width=half,
        left=left,
        right=right,
        sky_top=sky_top,
        sky_horizon=sky_horizon,
        clouds=rng.uniform(0.0, 0.8),
        fog=rng.uniform(180, 420),
        sunny=sunny,
        asphalt=_grey_jitter(rng, (92, 92, 94), 10),
        pavement=_grey_jitter(rng, (158, 153, 146), 12),
        crosswalk=rng.uniform(14, 40) if rng.random() < 0.35 else None,
        rails=None,
        end_wall=(
            (
                rng.uniform(90, 200),
                rng.uniform(10, 24),
                _jitter(rng, FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))]),
                int(rng.integers(1 << 30)),
            )
            if rng.random() < 0.35
            else None
        ),
        hood=bool(rng.random() < 0.4),
        boundary_void=bool(rng.random() < 0.4),
    )
    tram = rng.random() < 0.12 or index in (5, 17)
    if tram:
        street["rails"] = center - 0.3 * half
    draft = Street(**street, things=())
    things = (
        sample_vehicles(rng, draft, tram)
        + sample_people(rng, draft)
        + sample_furniture(rng, draft)
        + sample_trees(rng, draft)
        + sample_unlabeled(rng, draft)
    )
    cam = draft.camera
    visible = [t for t in things if t.z >= cam.min_visible_z(t.x, 60)]
    return Street(**street, things=tuple(visible))


def _vehicle(rng, x, z, facing, allow_big=True) -> Thing:
    """A car, or now and then a truck or bus, at (x, z)."""
    roll = rng.random() if allow_big else 1.0
    if roll < 0.07:
        return Thing(
            "bus",
            x,
            z,
            dict(
                facing=facing,
                colour=_jitter(rng, [(226, 196, 60), (210, 214, 218), (180, 40, 36)][rng.integers(3)]),
            ),
        )
    if roll < 0.17:
        return Thing(
            "truck",
            x,
            z,
            dict(
                facing=facing,
                box=_jitter(rng, [(222, 222, 218), (190, 192, 196), (60, 90, 140)][rng.integers(3)]),
                cab=_jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))]),
            ),
        )
    return Thing(
        "car",
        x,
        z,
        dict(
            facing=facing,
            colour=_jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 6),
            length=rng.uniform(3.9, 4.8),
            width=rng.uniform(1.7, 1.9),
            height=rng.uniform(1.38, 1.6),
        ),
    )


def sample_vehicles(rng, street: Street, tram: bool) -> tuple:
    """Cars ahead, oncoming traffic, parked rows, a tram, riders and parked two-wheelers."""
    cam, things = street.camera, []
    ego_lane, other_lane = street.center + 0.3 * street.half_width, street.center - 0.3 * street.half_width
    z = rng.uniform(8, 30)
    while z < 110:
        if rng.random() < 0.65:
            things.append(_vehicle(rng, ego_lane + rng.uniform(-0.3, 0.3), z, "rear", allow_big=z > 16))
        z += rng.uniform(12, 40)
    z = rng.uniform(12, 40)
    while z < 120:
        if rng.random() < 0.55 and not (tram and abs(z - 45) < 25):
            things.append(_vehicle(rng, other_lane + rng.uniform(-0.3, 0.3), z, "front"))
        z += rng.uniform(14, 40)
    for side in (street.left, street.right):
        if not side.parking:
            continue
        x = side.sign * (side.curb - 1.15)
        z = cam.min_visible_z(x + 1.0 * side.sign, 10) + rng.uniform(-2, 3)
        while z < 90:
            if rng.random() < 0.6:
                big_ok = z > 18 and rng.random() < 0.5
                things.append(_vehicle(rng, x + rng.uniform(-0.15, 0.15), z, "rear", allow_big=big_ok))
            z += rng.uniform(5.2, 8.5)
    if tram:
        things.append(
            Thing(
                "tram",
                other_lane,
                rng.uniform(30, 60),
                dict(colour=_jitter(rng, [(226, 226, 220), (200, 40, 40), (230, 200, 60)][rng.integers(3)])),
            )
        )
    if rng.random() < 0.5:
        for _ in range(rng.integers(1, 3)):
            things.append(
                Thing(
                    "rider",
                    street.center + rng.uniform(-0.8, 0.8) * street.half_width,
                    rng.uniform(9, 40),
                    dict(
                        motorcycle=bool(rng.random() < 0.4),
                        direction=int(rng.choice([-1, 1])),
                        clothes=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
                        legs=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
                        frame=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
                        helmet=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
                        skin=SKIN[rng.integers(len(SKIN))],
                    ),
                )
            )
    for side in (street.left, street.right):
        if rng.random() < 0.3:
            x = side.sign * (side.facade - 1.0)
            z = cam.min_visible_z(x, 0) + rng.uniform(1, 12)
            motor = rng.random() < 0.35
            for _ in range(rng.integers(1, 5)):
                things.append(
                    Thing(
                        "parked_motorcycle" if motor else "parked_bicycle",
                        x,
                        z,
                        dict(frame=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]), direction=-side.sign),
                    )
                )
                z += rng.uniform(0.7, 1.4)
    return tuple(things)


def _person(rng, x, z, crossing=False) -> Thing:
    """A pedestrian with random build and clothes."""
    return Thing(
        "person",
        x,
        z,
        dict(
            height=rng.uniform(1.55, 1.92),
            step=rng.uniform(0, 1) if crossing else rng.uniform(0, 0.6),
            top=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
            legs=_jitter(rng, CLOTHES[rng.integers(len(CLOTHES))]),
            skin=SKIN[rng.integers(len(SKIN))],
            hair=_jitter(rng, (40, 30, 24), 20),
        ),
    )


def sample_people(rng, street: Street) -> tuple:
    """Pedestrians on the sidewalks and on the crosswalk."""
    things = []
    for _ in range(rng.integers(0, 8)):
        side = street.left if rng.random() < 0.5 else street.right
        x = side.sign * rng.uniform(side.curb + 0.4, side.facade - 0.4)
        things.append(_person(rng, x, street.camera.min_visible_z(x, -10) + rng.uniform(0, 45)))
    if street.crosswalk is not None:
        for _ in range(rng.integers(0, 4)):
            x = street.center + rng.uniform(-1, 1) * street.half_width
            things.append(_person(rng, x, street.crosswalk + rng.uniform(0.3, 2.7), crossing=True))
    return tuple(things)


def sample_furniture(rng, street: Street) -> tuple:
    """Lamp posts, traffic-light poles and sign posts along the curbs."""
    cam, things = street.camera, []
    for side in (street.left, street.right):
        x = side.sign * (side.curb + 0.45)
        if rng.random() < 0.75:
            z = cam.min_visible_z(x, 0) + rng.uniform(0, 10)
            while z < 110:
                sign = (
                    str(rng.choice(["circle", "triangle", "square", "diamond"]))
                    if rng.random() < 0.3
                    else None
                )
                things.append(
                    Thing(
                        "pole",
                        x,
                        z,
                        dict(
                            height=rng.uniform(7, 9),
                            arm="lamp",
                            arm_length=rng.uniform(1.2, 2.4),
                            sign=sign,
                            sign_height=rng.uniform(2.2, 2.8),
                            sign_size=rng.uniform(0.55, 0.75),
                        ),
                    )
                )
                z += rng.uniform(18, 32)
        for _ in range(rng.integers(0, 3)):
            z = cam.min_visible_z(x, 0) + rng.uniform(2, 35)
            things.append(
                Thing(
                    "pole",
                    x,
                    z,
                    dict(
                        height=rng.uniform(2.9, 3.4),
                        arm=None,
                        arm_length=0.0,
                        sign=str(rng.choice(["circle", "triangle", "square", "diamond"])),
                        sign_height=rng.uniform(2.2, 2.7),
                        sign_size=rng.uniform(0.55, 0.8),
                    ),
                )
            )
    if rng.random() < 0.65:
        z_light = street.crosswalk - 1.5 if street.crosswalk is not None else rng.uniform(14, 50)
        for side in (street.left, street.right):
            if rng.random() < 0.75:
                x = side.sign * (side.curb + 0.5)
                arm = rng.random() < 0.5
                things.append(
                    Thing(
                        "pole",
                        x,
                        z_light,
                        dict(
                            height=rng.uniform(5.5, 6.5) if arm else rng.uniform(3.3, 3.8),
                            arm="light" if arm else None,
                            arm_length=rng.uniform(3, 5),
                            top_light=not arm,
                            lamp=str(rng.choice(["red", "amber", "green"])),
                            sign=str(rng.choice(["circle", "square"])) if rng.random() < 0.3 else None,
                            sign_height=2.3,
                            sign_size=0.6,
                        ),
                    )
                )
    return tuple(things)


def _tree(rng, x, z, big=False) -> Thing:
    """A tree with trunk and irregular crown; street trees (not ``big``) stand in a grass pit."""
    scale = rng.uniform(1.2, 1.6) if big else rng.uniform(0.8, 1.2)
    return Thing(
        "tree",
        x,
        z,
        dict(
            trunk=rng.uniform(2.0, 3.2) * scale,
            radius=rng.uniform(1.6, 2.6) * scale,
            lobes=tuple(tuple(v) for v in rng.uniform(-1, 1, (5, 3))),
            pit=not big,
            green=_jitter(
                rng, [(64, 96, 38), (80, 110, 44), (52, 82, 40), (96, 118, 52)][rng.integers(4)], 8
            ),
        ),
    )


def sample_trees(rng, street: Street) -> tuple:
    """Street trees along the curb and trees standing in the gaps between buildings."""
    cam, things = street.camera, []
    for side in (street.left, street.right):
        if rng.random() < 0.45:
            x = side.sign * (side.curb + 0.9)
            z = cam.min_visible_z(x, 0) + rng.uniform(0, 6)
            while z < 90:
                things.append(_tree(rng, x, z))
                z += rng.uniform(8, 15)
        for block in side.blocks:
            if block.gap and block.z0 < 150:
                for _ in range(rng.integers(1, 4)):
                    x = side.sign * (side.facade + rng.uniform(1.5, max(2.0, block.setback - 2)))
                    things.append(_tree(rng, x, rng.uniform(block.z0 + 1, block.z1 - 1), big=True))
    return tuple(things)


def sample_unlabeled(rng, street: Street) -> tuple:
    """Street furniture that has no class (bins, advertising columns): void in the ground truth."""
    things = []
    for _ in range(rng.integers(0, 3)):
        side = street.left if rng.random() < 0.5 else street.right
        kind = "column" if rng.random() < 0.3 else "bin"
        x = side.sign * rng.uniform(side.curb + 0.8, side.facade - 0.8)
        things.append(
            Thing(
                kind,
                x,
                street.camera.min_visible_z(x, -20) + rng.uniform(0, 20),
                dict(
                    colour=_jitter(
                        rng, [(40, 70, 50), (70, 72, 76), (210, 120, 40), (50, 60, 90)][rng.integers(4)]
                    ),
                    seed=int(rng.integers(1 << 30)),
                ),
            )
        )
    return tuple(things)


# --------------------------------------------------------------------------- canvas


class Canvas:
    """Per-image render target: label map, colour, depth buffer and instance map."""

    def __init__(self, camera: Camera, rng: np.random.Generator):
        self.cam = camera
        rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        self.ys, self.xs = rows + 0.5, cols + 0.5
        self.label = np.full((HEIGHT, WIDTH), SKY, np.uint8)
        self.rgb = np.zeros((HEIGHT, WIDTH, 3), np.float32)
        self.depth = np.full((HEIGHT, WIDTH), np.inf, np.float32)
        self.instance = np.zeros((HEIGHT, WIDTH), np.int32)
        self.instances: list[tuple[int, float]] = [(-1, 0.0)]  # id -> (class, depth); 0 = stuff
        self.noise_large = smooth_noise(rng, 6, 3)
        self.noise_cloud = smooth_noise(rng, 5, 8)  # stretched sideways, like cumulus banks
        self.noise_mid = smooth_noise(rng, 40, 20)
        self.noise_fine = smooth_noise(rng, 160, 80)
        self.grain = rng.standard_normal((HEIGHT, WIDTH)).astype(np.float32)

    def new_instance(self, cls: int, depth: float) -> int:
        """Register an object instance and return its id."""
        self.instances.append((cls, depth))
        return len(self.instances) - 1

    def coords(self, pix: Pixels):
        """Pixel-centre image coordinates (x, y) of a pixel set."""
        return self.xs[pix], self.ys[pix]

    def texture(self, pix: Pixels, fine=0.05, mid=0.04, grain=0.03) -> np.ndarray:
        """Multiplicative brightness texture (about 1) for a pixel set, shape (n, 1)."""
        t = 1 + fine * self.noise_fine[pix] + mid * self.noise_mid[pix] + grain * self.grain[pix]
        return t[:, None]

    def paint(self, pix: Pixels, cls: int, colour, depth, inst: int = 0) -> None:
        """Write class, colour, depth and instance where ``depth`` is not behind what is there."""
        rows, cols = pix
        if rows.size == 0:
            return
        depth = np.broadcast_to(np.asarray(depth, np.float32), rows.shape)
        keep = depth <= self.depth[rows, cols]
        rows, cols = rows[keep], cols[keep]
        colour = np.asarray(colour, np.float32)
        self.label[rows, cols] = cls
        self.rgb[rows, cols] = colour if colour.ndim == 1 else colour[keep]
        self.depth[rows, cols] = depth[keep]
        self.instance[rows, cols] = inst

    def darken(self, pix: Pixels, factor: float, on=(ROAD, SIDEWALK, TERRAIN)) -> None:
        """Multiply the colour of ground pixels (for cast shadows)."""
        keep = np.isin(self.label[pix], on)
        rows, cols = select(pix, keep)
        self.rgb[rows, cols] *= factor


# --------------------------------------------------------------------------- stuff rendering


def paint_sky(canvas: Canvas, street: Street) -> None:
    """Vertical blue (or grey) gradient with soft clouds."""
    t = np.clip(canvas.ys / street.camera.horizon, 0, 1)[..., None] ** 0.8
    colour = np.asarray(street.sky_top) * (1 - t) + np.asarray(street.sky_horizon) * t
    puff = canvas.noise_cloud + 0.25 * canvas.noise_mid + 0.1 * canvas.noise_fine
    cloud = 0.75 * np.clip(0.45 * puff + street.clouds - 0.55, 0, 1)[..., None]
    canvas.rgb[...] = colour * (1 - cloud) + np.array([234, 236, 240]) * cloud
    canvas.label[...] = SKY  # the whole frame starts as sky at infinite depth


def _side_arrays(side: Side):
    """Per-block attribute arrays of a street side, for vectorised look-ups."""
    b = side.blocks
    return dict(
        z0=np.array([k.z0 for k in b]),
        z1=np.array([k.z1 for k in b]),
        gap=np.array([k.gap for k in b]),
        setback=np.array([k.setback for k in b]),
    )


def _gap_lookup(side: Side, z: np.ndarray):
    """For depths ``z`` along a side: block index and whether that block is a gap."""
    a = _side_arrays(side)
    idx = np.minimum(np.searchsorted(a["z1"], z), len(side.blocks) - 1)
    return idx, a["gap"][idx], a["setback"][idx]


def paint_ground(canvas: Canvas, street: Street) -> None:
    """Road (with markings), sidewalks (tiles and curb), grass verges and gap lawns."""
    cam = street.camera
    pix = np.nonzero(canvas.ys > cam.horizon + 0.3)
    px, py = canvas.coords(pix)
    z = cam.focal * cam.height / (py - cam.horizon)
    x = (px - cam.cx) * z / cam.focal
    right = x >= 0
    dist = np.abs(x)
    curb = np.where(right, street.right.curb, street.left.curb)
    facade = np.where(right, street.right.facade, street.left.facade)
    label = np.full(z.shape, BUILDING, np.uint8)
    label[dist < facade] = SIDEWALK
    label[x > -street.left.curb] = ROAD
    label[x >= street.right.curb] = np.where(
        dist[x >= street.right.curb] < street.right.facade, SIDEWALK, BUILDING
    )
    for side, on_side in ((street.left, ~right), (street.right, right)):
        _idx, gap, setback = _gap_lookup(side, z)
        lawn = on_side & gap & (dist >= side.facade) & (dist < side.facade + setback)
        label[lawn] = TERRAIN
        off = dist - side.curb
        for z0, z1 in side.verges:
            label[on_side & (off > 0.3) & (off < 1.6) & (z > z0) & (z < z1)] = TERRAIN
    for tree in street.things:
        if tree.kind == "tree" and tree.params["pit"]:
            label[(np.abs(x - tree.x) < 0.75) & (np.abs(z - tree.z - 0.3) < 0.8)] = TERRAIN
    fade = np.clip(1.3 - z / 60, 0, 1)
    tex = canvas.texture(pix, fine=0.04, mid=0.035, grain=0.035)[:, 0] * (1 + 0.04 * canvas.noise_large[pix])
    colour = np.empty((z.size, 3), np.float32)

    road = label == ROAD
    paint = np.zeros(z.shape, np.float32)
    rel = x - street.center
    paint = np.maximum(paint, (np.abs(rel) < 0.08) & (np.mod(z, 9) < 4.5))
    for side in (street.left, street.right):
        if not side.parking:
            paint = np.maximum(paint, np.abs(dist - (side.curb - 0.35)) < 0.07)
    if street.crosswalk is not None:
        paint = np.maximum(
            paint, (z > street.crosswalk) & (z < street.crosswalk + 3) & (np.mod(rel, 1.0) < 0.5)
        )
    paint = paint * fade * 0.75
    base = np.asarray(street.asphalt)
    if street.rails is not None:
        rail = (np.abs(np.abs(x - street.rails) - 0.72) < 0.045) & (z < 120)
        base = np.where(rail[:, None], base * 1.35, base)
    colour[road] = (base * tex[:, None] * (1 - paint[:, None]) + 205 * paint[:, None])[road]

    walk = label == SIDEWALK
    off = dist - curb
    seams = ((np.mod(x, 0.6) < 0.05) | (np.mod(z, 0.6) < 0.05)) * np.clip(1 - z / 22, 0, 1)
    pave = np.asarray(street.pavement)[None] * (1 - 0.14 * seams)[:, None]
    pave = np.where((off < 0.25)[:, None], np.array([176, 174, 168]) * 1.0, pave)
    colour[walk] = (pave * tex[:, None])[walk]

    grass = label == TERRAIN
    mix = np.clip(0.5 + 0.5 * canvas.noise_mid[pix], 0, 1)[:, None]
    lawn = np.array([92, 124, 52]) * mix + np.array([128, 116, 78]) * (1 - mix)
    colour[grass] = (lawn * (1 + 0.12 * canvas.noise_fine[pix] + 0.06 * canvas.grain[pix])[:, None])[grass]
    colour[label == BUILDING] = 90.0

    if street.sunny:  # shadow cast by the shaded side's buildings
        shaded = street.left if street.left.lit < street.right.lit else street.right
        on_side = (x < 0) if shaded.sign < 0 else (x >= 0)
        colour[on_side & (dist > shaded.curb - 1.0)] *= 0.72
    canvas.paint(pix, 0, colour, z.astype(np.float32))
    canvas.label[pix] = label  # paint() wrote a placeholder class


def window_pattern(u, y, floor, bay, seed, detail):
    """Glass mask strength (0..1) and per-window random value for facade coordinates.

    ``u`` runs horizontally along the wall, ``y`` is the height above the ground (metres).
    ``detail`` fades the pattern out where windows would be smaller than a few pixels.
    """
    fi = np.floor(np.maximum(y, 0) / floor)
    fu = np.mod(y, floor) / floor
    ci = np.floor(u / bay)
    cu = np.mod(u, bay) / bay
    upper = (fi >= 1) & (fu > 0.3) & (fu < 0.78) & (cu > 0.27) & (cu < 0.73)
    shop = (y > 0.45) & (y < 0.82 * floor) & (cu > 0.1) & (cu < 0.9)
    glass = (upper | shop).astype(np.float32) * detail
    return glass, hash01(fi, ci, seed), fi


def facade_colour(canvas: Canvas, pix, u, y, base, floor, bay, seed, shade, px_per_bay, px_per_floor, top):
    """Colour of facade pixels: wall texture, window grid, plinth, cornice and shading."""
    detail = np.clip(np.minimum(px_per_bay, 2 * px_per_floor) / 3 - 1, 0, 1)
    glass, rnd, fi = window_pattern(u, y, floor, bay, seed, detail)
    wall = base * canvas.texture(pix, fine=0.05, mid=0.05, grain=0.03)
    wall = wall * (1 + 0.05 * np.clip(y / 20, 0, 1))[:, None]
    plinth = (y < 0.5)[:, None]
    wall = np.where(plinth, wall * 0.7, wall)
    cornice = (y > top - 0.5)[:, None] & (y > 3)[:, None]
    wall = np.where(cornice, wall * 0.8, wall)
    glass_col = np.array([44, 52, 62])[None] + rnd[:, None] * np.array([70, 80, 92])[None]
    glass_col = np.where((fi == 0)[:, None], glass_col * 0.8, glass_col)
    colour = wall * (1 - glass[:, None]) + glass_col * glass[:, None]
    return colour * shade[:, None]


def paint_side(canvas: Canvas, street: Street, side: Side) -> None:
    """Facades of one street side, with the side walls and set-back buildings of gaps."""
    cam, blocks = street.camera, side.blocks
    n = len(blocks)
    d = side.sign * (canvas.xs[0] - cam.cx)
    ok = d > 0.3
    d = np.where(ok, d, 0.3)
    z_face = cam.focal * side.facade / d
    a = _side_arrays(side)
    idx = np.minimum(np.searchsorted(a["z1"], z_face), n - 1)
    ok &= z_face < a["z1"][-1]
    in_gap = a["gap"][idx]
    x_end = d * a["z1"][idx] / cam.focal
    hit_wall = in_gap & (x_end <= side.facade + a["setback"][idx])
    hit_back = in_gap & ~hit_wall
    depth = np.where(
        hit_wall, a["z1"][idx], np.where(hit_back, cam.focal * (side.facade + a["setback"][idx]) / d, z_face)
    )
    u = np.where(hit_wall, x_end, depth)
    nxt = np.minimum(idx + 1, n - 1)
    owner = np.where(hit_wall, nxt, idx)  # whose material/height the wall surface has
    heights = np.array([k.height for k in blocks])
    extra = np.array([k.roof_extra for k in blocks])
    t = np.clip((u - a["z0"][owner]) / (a["z1"][owner] - a["z0"][owner]), 0, 1)
    roof = np.array([k.roof for k in blocks])[owner]
    top = heights[owner] + np.where(
        roof == "gable",
        extra[owner] * (1 - np.abs(2 * t - 1)),
        np.where(roof == "step", extra[owner] * (t > 0.5), 0),
    )
    top = np.where(hit_wall, heights[owner], top)
    top = np.where(hit_back, np.array([k.back_height for k in blocks])[idx], top)
    colours = np.array([k.colour for k in blocks], np.float32)
    back_colours = np.array([k.back_colour for k in blocks], np.float32)
    col_colour = np.where(hit_back[:, None], back_colours[idx], colours[owner])
    floor = np.array([k.floor for k in blocks])[owner]
    bay = np.array([k.bay for k in blocks])[owner]
    seed = np.array([k.seed for k in blocks])[owner] + hit_back * 7
    shade = np.where(hit_wall, 0.84, side.lit * np.where(hit_back, 0.95, 1.0))
    px_bay = np.where(hit_wall, cam.focal * bay / depth, bay * d * d / (cam.focal * side.facade))
    px_bay = np.where(hit_back, bay * d * d / (cam.focal * (side.facade + a["setback"][idx])), px_bay)
    y_top = cam.horizon + cam.focal * (cam.height - top) / depth
    y_bot = cam.horizon + cam.focal * cam.height / depth
    mask = ok[None] & (canvas.ys >= y_top[None]) & (canvas.ys < y_bot[None])
    pix = np.nonzero(mask)
    c = pix[1]
    y = cam.height - (canvas.ys[pix] - cam.horizon) * depth[c] / cam.focal
    colour = facade_colour(
        canvas,
        pix,
        u[c],
        y,
        col_colour[c],
        floor[c],
        bay[c],
        seed[c],
        shade[c],
        px_bay[c],
        cam.focal * floor[c] / depth[c],
        top[c],
    )
    canvas.paint(pix, BUILDING, colour, depth[c].astype(np.float32))
    paint_gap_edges(canvas, street, side, z_face, ok, idx)


def paint_gap_edges(canvas: Canvas, street: Street, side: Side, z_face, ok, idx) -> None:
    """Hedge, fence or wall along the sidewalk in front of each gap."""
    cam = street.camera
    for i, block in enumerate(side.blocks):
        if not block.gap or block.edge == "none":
            continue
        cols = ok & (idx == i) & (z_face > block.z0) & (z_face < block.z1)
        y_top = cam.horizon + cam.focal * (cam.height - block.edge_height) / z_face
        y_bot = cam.horizon + cam.focal * cam.height / z_face
        pix = np.nonzero(cols[None] & (canvas.ys >= y_top[None]) & (canvas.ys < y_bot[None]))
        zc = z_face[pix[1]]
        y = cam.height - (canvas.ys[pix] - cam.horizon) * zc / cam.focal
        tex = canvas.texture(pix, fine=0.06, mid=0.06, grain=0.04)
        if block.edge == "hedge":
            leaf = 0.8 + 0.3 * canvas.noise_fine[pix] + 0.12 * canvas.grain[pix]
            colour = np.array([58, 92, 40]) * leaf[:, None] * (0.75 + 0.3 * y / block.edge_height)[:, None]
            cls = VEGETATION
        elif block.edge == "fence":
            plank = hash01(np.floor(zc / 0.14), block.seed)
            wood = block.seed % 2 == 0
            base = np.array([134, 98, 64]) if wood else np.array([70, 84, 72])
            rail = (np.abs(y - 0.3) < 0.06) | (np.abs(y - block.edge_height + 0.15) < 0.06)
            colour = base * (0.85 + 0.3 * plank)[:, None] * tex * np.where(rail, 0.75, 1.0)[:, None]
            cls = FENCE
        else:
            cap = y > block.edge_height - 0.12
            colour = np.array([150, 146, 138]) * tex * np.where(cap, 1.15, 1.0)[:, None]
            colour = colour * (0.9 + 0.1 * np.clip(canvas.noise_mid[pix], -1, 1))[:, None]
            cls = WALL
        colour = colour * side.lit
        canvas.paint(pix, cls, colour, (zc - 0.05).astype(np.float32))


def paint_end_wall(canvas: Canvas, street: Street) -> None:
    """Building closing the far end of the street (some images only)."""
    if street.end_wall is None:
        return
    cam = street.camera
    z, height, base, seed = street.end_wall
    x0, x1 = -street.left.facade - 30, street.right.facade + 30
    pix = polygon_pixels(
        [
            cam.to_image(x0, 0, z),
            cam.to_image(x1, 0, z),
            cam.to_image(x1, height, z),
            cam.to_image(x0, height, z),
        ]
    )
    px, py = canvas.coords(pix)
    u = (px - cam.cx) * z / cam.focal + 100
    y = cam.height - (py - cam.horizon) * z / cam.focal
    n = px.size
    colour = facade_colour(
        canvas,
        pix,
        u,
        y,
        np.broadcast_to(np.asarray(base, np.float32), (n, 3)),
        np.full(n, 3.2),
        np.full(n, 3.0),
        np.full(n, seed),
        np.full(n, 0.9),
        np.full(n, cam.focal * 3.0 / z),
        np.full(n, cam.focal * 3.2 / z),
        np.full(n, height),
    )
    canvas.paint(pix, BUILDING, colour, np.float32(z))


# --------------------------------------------------------------------------- things


def _plane_z_coords(cam: Camera, px, py, z):
    """World (X, Y) of pixels on the vertical plane at depth ``z``."""
    return (px - cam.cx) * z / cam.focal, cam.height - (py - cam.horizon) * z / cam.focal


def _plane_x_coords(cam: Camera, px, py, x):
    """World (Z, Y) of pixels on the vertical plane at lateral position ``x``."""
    z = cam.focal * x / np.where(np.abs(px - cam.cx) < 1e-3, 1e-3, px - cam.cx)
    return z, cam.height - (py - cam.horizon) * z / cam.focal


def _plane_y_coords(cam: Camera, px, py, y):
    """World (X, Z) of pixels on the horizontal plane at height ``y``."""
    z = cam.focal * (cam.height - y) / np.where(np.abs(py - cam.horizon) < 1e-3, 1e-3, py - cam.horizon)
    return (px - cam.cx) * z / cam.focal, z


def paint_box(canvas: Canvas, box, cls: int, inst: int, depth: float, colour_of) -> None:
    """Paint the visible faces of an axis-aligned box ``(x0, x1, y0, y1, z0, z1)``.

    ``colour_of(face, a, b, pix)`` returns colours; ``face`` is "back", "side" or "top" and
    ``a, b`` are metres from the box corner along the face (width/height, length/height or
    width/length respectively).
    """
    cam = canvas.cam
    x0, x1, y0, y1, z0, z1 = box
    p = cam.to_image
    faces = [("back", [p(x0, y0, z0), p(x1, y0, z0), p(x1, y1, z0), p(x0, y1, z0)])]
    if x1 < 0:
        faces.append(("side", [p(x1, y0, z0), p(x1, y0, z1), p(x1, y1, z1), p(x1, y1, z0)]))
    elif x0 > 0:
        faces.append(("side", [p(x0, y0, z0), p(x0, y0, z1), p(x0, y1, z1), p(x0, y1, z0)]))
    if y1 < cam.height:
        faces.append(("top", [p(x0, y1, z0), p(x1, y1, z0), p(x1, y1, z1), p(x0, y1, z1)]))
    for face, pts in faces:
        pix = polygon_pixels(pts)
        if pix[0].size == 0:
            continue
        px, py = canvas.coords(pix)
        if face == "back":
            wx, wy = _plane_z_coords(cam, px, py, z0)
            a, b = wx - x0, wy - y0
        elif face == "side":
            wz, wy = _plane_x_coords(cam, px, py, x1 if x1 < 0 else x0)
            a, b = np.clip(wz, z0, z1) - z0, wy - y0
        else:
            wx, wz = _plane_y_coords(cam, px, py, y1)
            a, b = wx - x0, np.clip(wz, z0, z1) - z0
        canvas.paint(pix, cls, colour_of(face, a, b, pix), depth, inst)


def paint_wheels(canvas: Canvas, x_side: float, zs, radius: float, cls: int, inst: int, depth: float) -> None:
    """Tyres with grey hubs on the camera-facing side of a vehicle."""
    cam = canvas.cam
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for zc in zs:
        for r, colour in ((radius, (24, 24, 26)), (radius * 0.55, (112, 112, 118))):
            pts = [cam.to_image(x_side, radius + r * np.sin(t), zc + r * np.cos(t)) for t in angles]
            canvas.paint(polygon_pixels(pts), cls, colour, depth, inst)


def paint_shadow(canvas: Canvas, x0, x1, z0, z1, factor=0.5) -> None:
    """Soft-less contact shadow on the ground under a vehicle."""
    p = canvas.cam.to_image
    canvas.darken(polygon_pixels([p(x0, 0, z0), p(x1, 0, z0), p(x1, 0, z1), p(x0, 0, z1)]), factor)


def draw_car(canvas: Canvas, thing: Thing) -> None:
    """Passenger car: body box, narrower cabin with glass, lights, plate, tyres and shadow."""
    q = thing.params
    w, length, h = q["width"], q["length"], q["height"]
    x0, x1, z0 = thing.x - w / 2, thing.x + w / 2, thing.z
    body = np.asarray(q["colour"], np.float32)
    front = q["facing"] == "front"
    inst = canvas.new_instance(CAR, z0)
    paint_shadow(canvas, x0 - 0.1, x1 + 0.1, z0 - 0.15, z0 + length, 0.45)
    tyre = (24, 24, 26)
    for xa, xb in ((x0 + 0.06, x0 + 0.3), (x1 - 0.3, x1 - 0.06)):
        pts = [canvas.cam.to_image(x, y, z0 + 0.6) for x, y in ((xa, 0), (xb, 0), (xb, 0.35), (xa, 0.35))]
        canvas.paint(polygon_pixels(pts), CAR, tyre, z0, inst)

    def body_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.02, mid=0.02, grain=0.02)
        if face == "top":
            return body * 1.08 * tex + 14
        if face == "side":
            col = body * 0.74 * tex * (0.9 + 0.2 * np.clip(b / 0.67, 0, 1))[:, None]
            return np.where((b < 0.12)[:, None], col * 0.55, col)
        col = body * 0.9 * tex * (0.9 + 0.15 * np.clip(b / 0.67, 0, 1))[:, None]
        lamp = (b > 0.4) & (b < 0.58) & ((a < 0.32) | (a > w - 0.32))
        plate = (np.abs(a - w / 2) < 0.26) & (b > 0.14) & (b < 0.27)
        grille = front & (np.abs(a - w / 2) < 0.45) & (b > 0.28) & (b < 0.48)
        col = np.where((b < 0.12)[:, None], np.array([38, 38, 40]), col)
        col = np.where(lamp[:, None], np.array([226, 224, 206]) if front else np.array([168, 24, 26]), col)
        col = np.where(grille[:, None], np.array([34, 34, 38]), col)
        return np.where(plate[:, None], np.array([214, 214, 204]), col)

    paint_box(canvas, (x0, x1, 0.28, 0.95, z0, z0 + length), CAR, inst, z0, body_colour)
    paint_wheels(canvas, x1 if x1 < 0 else x0, (z0 + 0.75, z0 + length - 0.8), 0.31, CAR, inst, z0)
    cab_len = length - (2.1 if front else 2.0)
    cab_z0 = z0 + (1.1 if not front else 0.95)

    def cabin_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.02, mid=0.02, grain=0.02)
        glass = np.array([46, 54, 64]) + np.array([50, 56, 62]) * np.clip(1 - b / (h - 0.95), 0, 1)[:, None]
        if face == "top":
            return body * 1.1 * tex + 10
        if face == "side":
            win = (
                (b > 0.07)
                & (b < h - 1.02)
                & (a > 0.12)
                & (a < cab_len - 0.12)
                & (np.abs(a - cab_len * 0.48) > 0.06)
            )
            return np.where(win[:, None], glass * 0.9, body * 0.76 * tex)
        win = (b > 0.06) & (b < h - 1.01) & (a > 0.12) & (a < w - 0.36)
        return np.where(win[:, None], glass * tex, body * 0.92 * tex)

    paint_box(canvas, (x0 + 0.12, x1 - 0.12, 0.95, h, cab_z0, cab_z0 + cab_len), CAR, inst, z0, cabin_colour)


def draw_truck(canvas: Canvas, thing: Thing) -> None:
    """Box truck: cargo box and cab (order along Z depends on the direction of travel)."""
    q = thing.params
    x0, x1, z0 = thing.x - 1.25, thing.x + 1.25, thing.z
    front = q["facing"] == "front"
    inst = canvas.new_instance(TRUCK, z0)
    box_col, cab_col = np.asarray(q["box"], np.float32), np.asarray(q["cab"], np.float32)
    cab_z = (z0, z0 + 2.1) if front else (z0 + 6.2, z0 + 8.3)
    box_z = (z0 + 2.3, z0 + 8.3) if front else (z0, z0 + 6.0)
    paint_shadow(canvas, x0 - 0.1, x1 + 0.1, z0 - 0.2, z0 + 8.3, 0.45)

    def cargo_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.03, mid=0.03, grain=0.02)
        if face == "top":
            return box_col * 1.02 * tex
        if face == "side":
            stripe = (b > 1.0) & (b < 1.4)
            return np.where(stripe[:, None], np.array([170, 40, 36]), box_col * 0.78 * tex)
        seam = (np.abs(a - 1.25) < 0.03) | (b < 0.08) | (np.abs(b - 1.4) < 0.03)
        col = box_col * 0.9 * tex
        lamp = (b < 0.2) & ((a < 0.3) | (a > 2.2))
        col = np.where(seam[:, None], col * 0.6, col)
        return np.where(lamp[:, None], np.array([170, 30, 30]), col)

    def cab_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.03, mid=0.03, grain=0.02)
        glass = np.array([52, 60, 70]) * tex
        if face == "top":
            return cab_col * 1.05 * tex
        if face == "side":
            win = (b > 1.2) & (b < 2.0) & (a > 0.3) & (a < 1.7)
            return np.where(win[:, None], glass, cab_col * 0.75 * tex)
        win = front & (b > 1.15) & (b < 2.1) & (a > 0.15) & (a < 2.25)
        lamp = front & (b > 0.3) & (b < 0.5) & ((a < 0.35) | (a > 2.05))
        col = np.where(win[:, None], glass, cab_col * 0.9 * tex)
        return np.where(lamp[:, None], np.array([226, 224, 206]), col)

    dark = lambda face, a, b, pix: np.array([36, 36, 38]) * canvas.texture(pix)  # noqa: E731
    parts = [
        ((x0 + 0.3, x1 - 0.3, 0.35, 0.95, z0 + 0.1, z0 + 8.2), dark),
        ((x0, x1, 0.95, 3.7, *box_z), cargo_colour),
        ((x0 + 0.05, x1 - 0.05, 0.5, 2.9, *cab_z), cab_colour),
    ]
    if not front:  # paint far to near: the cab is behind the cargo box
        parts = [parts[0], parts[2], parts[1]]
    for box, fn in parts:
        paint_box(canvas, box, TRUCK, inst, z0, fn)
    paint_wheels(canvas, x1 if x1 < 0 else x0, (z0 + 1.2, z0 + 5.6, z0 + 6.9), 0.5, TRUCK, inst, z0)


def draw_bus(canvas: Canvas, thing: Thing) -> None:
    """City bus: one long box with a window band, destination display and lights."""
    q = thing.params
    x0, x1, z0, length = thing.x - 1.27, thing.x + 1.27, thing.z, 12.0
    front = q["facing"] == "front"
    col = np.asarray(q["colour"], np.float32)
    inst = canvas.new_instance(BUS, z0)
    paint_shadow(canvas, x0 - 0.1, x1 + 0.1, z0 - 0.2, z0 + length, 0.45)

    def bus_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.03, mid=0.03, grain=0.02)
        glass = np.array([48, 56, 66]) * tex
        if face == "top":
            return np.array([150, 152, 156]) * tex
        if face == "side":
            win = (b > 1.0) & (b < 2.25) & (np.mod(a, 1.6) > 0.12)
            return np.where(win[:, None], glass, col * 0.78 * tex)
        if front:
            win = (b > 0.85) & (b < 2.35) & (a > 0.1) & (a < 2.44)
            display = (b > 2.42) & (b < 2.68) & (a > 0.3) & (a < 2.24)
        else:
            win = (b > 1.6) & (b < 2.35) & (a > 0.25) & (a < 2.29)
            display = (b > 2.42) & (b < 2.6) & (a > 0.8) & (a < 1.74)
        lamp = (b > 0.25) & (b < 0.5) & ((a < 0.3) | (a > 2.24))
        out = np.where(win[:, None], glass, col * 0.9 * tex)
        out = np.where(display[:, None], np.array([236, 150, 40]), out)
        return np.where(lamp[:, None], np.array([226, 224, 206]) if front else np.array([170, 30, 30]), out)

    paint_box(canvas, (x0, x1, 0.3, 3.0, z0, z0 + length), BUS, inst, z0, bus_colour)
    paint_wheels(canvas, x1 if x1 < 0 else x0, (z0 + 2.6, z0 + length - 3.0), 0.5, BUS, inst, z0)


def draw_tram(canvas: Canvas, thing: Thing) -> None:
    """Tram (the "train" class): long box with big windscreen, side windows and pantograph."""
    q = thing.params
    x0, x1, z0, length = thing.x - 1.32, thing.x + 1.32, thing.z, 30.0
    col = np.asarray(q["colour"], np.float32)
    inst = canvas.new_instance(TRAIN, z0)
    cam = canvas.cam
    paint_shadow(canvas, x0 - 0.1, x1 + 0.1, z0 - 0.2, z0 + length, 0.5)

    def tram_colour(face, a, b, pix):
        tex = canvas.texture(pix, fine=0.03, mid=0.03, grain=0.02)
        glass = np.array([44, 52, 62]) * tex
        stripe = (b > 0.2) & (b < 0.5)
        if face == "top":
            return np.array([140, 142, 146]) * tex
        if face == "side":
            win = (b > 1.2) & (b < 2.5) & (np.mod(a, 2.2) > 0.2)
            out = np.where(win[:, None], glass, col * 0.78 * tex)
            return np.where(stripe[:, None], np.array([60, 60, 66]), out)
        win = (b > 1.1) & (b < 2.6) & (a > 0.15) & (a < 2.49)
        out = np.where(win[:, None], glass, col * 0.9 * tex)
        lamp = (b > 0.55) & (b < 0.75) & ((a < 0.4) | (a > 2.24))
        out = np.where(lamp[:, None], np.array([230, 228, 210]), out)
        return np.where(stripe[:, None], np.array([60, 60, 66]), out)

    paint_box(canvas, (x0, x1, 0.35, 3.5, z0, z0 + length), TRAIN, inst, z0, tram_colour)
    zp = z0 + 4.0
    pts = [
        cam.to_image(thing.x - 0.5, 3.5, zp),
        cam.to_image(thing.x + 0.3, 4.3, zp),
        cam.to_image(thing.x - 0.4, 4.6, zp),
    ]
    canvas.paint(line_pixels(pts, cam.scale(0.06, zp)), TRAIN, (40, 40, 44), z0, inst)


def draw_person(canvas: Canvas, thing: Thing) -> None:
    """Pedestrian facing the camera: legs, torso, arms, head with hair."""
    q = thing.params
    cam, z, x, h = canvas.cam, thing.z, thing.x, q["height"]
    inst = canvas.new_instance(PERSON, z)
    p = lambda a, b: cam.to_image(x + a, b * h, z)  # noqa: E731
    spread = 0.07 * q["step"]
    paint_shadow(canvas, x - 0.3, x + 0.3, z - 0.2, z + 0.5, 0.65)
    for s in (-1, 1):
        leg = [
            p(s * 0.01, 0.49),
            p(s * 0.16, 0.49),
            p(s * (0.15 + spread), 0.03),
            p(s * (0.03 + spread), 0.03),
        ]
        pix = polygon_pixels(leg)
        canvas.paint(pix, PERSON, np.asarray(q["legs"]) * canvas.texture(pix, 0.04, 0.04, 0.04), z, inst)
        shoe = [
            p(s * (0.02 + spread), 0.04),
            p(s * (0.17 + spread), 0.04),
            p(s * (0.17 + spread), 0.0),
            p(s * (0.02 + spread), 0.0),
        ]
        canvas.paint(polygon_pixels(shoe), PERSON, (30, 28, 28), z, inst)
    torso = [p(-0.17, 0.47), p(0.17, 0.47), p(0.22, 0.79), p(0.16, 0.83), p(-0.16, 0.83), p(-0.22, 0.79)]
    pix = polygon_pixels(torso)
    _, py = canvas.coords(pix)
    grad = (0.85 + 0.2 * (py.max() - py) / max(py.max() - py.min(), 1))[:, None]
    canvas.paint(pix, PERSON, np.asarray(q["top"]) * grad * canvas.texture(pix, 0.04, 0.04, 0.04), z, inst)
    for s in (-1, 1):
        arm = [p(s * 0.17, 0.8), p(s * 0.24, 0.79), p(s * 0.27, 0.46), p(s * 0.21, 0.46)]
        pix = polygon_pixels(arm)
        canvas.paint(pix, PERSON, np.asarray(q["top"]) * 0.85 * canvas.texture(pix), z, inst)
        hand = [p(s * 0.21, 0.465), p(s * 0.27, 0.465), p(s * 0.265, 0.42), p(s * 0.215, 0.42)]
        canvas.paint(polygon_pixels(hand), PERSON, q["skin"], z, inst)
    hx, hy = p(0, 0.905)
    rx, ry = cam.scale(0.058 * h, z), cam.scale(0.068 * h, z)
    canvas.paint(
        polygon_pixels([p(-0.03, 0.82), p(0.03, 0.82), p(0.03, 0.86), p(-0.03, 0.86)]),
        PERSON,
        np.asarray(q["skin"]) * 0.85,
        z,
        inst,
    )
    canvas.paint(ellipse_pixels(hx, hy, rx, ry), PERSON, q["skin"], z, inst)
    canvas.paint(ellipse_pixels(hx, hy - ry * 0.35, rx * 1.02, ry * 0.7), PERSON, q["hair"], z, inst)


def _two_wheeler(canvas: Canvas, x: float, z: float, direction: int, motor: bool, frame, inst: int) -> dict:
    """Side view of a bicycle or motorcycle in the plane at depth ``z``; returns key points."""
    cam = canvas.cam
    cls = MOTORCYCLE if motor else BICYCLE
    p = lambda a, b: cam.to_image(x + direction * a, b, z)  # noqa: E731
    r = 0.31 if motor else 0.34
    base = 0.68 if motor else 0.53
    for a in (-base, base):
        cx, cy = p(a, r)
        rr = cam.scale(r, z)
        if motor:
            canvas.paint(ellipse_pixels(cx, cy, rr, rr), cls, (26, 26, 28), z, inst)
            canvas.paint(ellipse_pixels(cx, cy, rr * 0.55, rr * 0.55), cls, (120, 120, 126), z, inst)
        else:
            canvas.paint(
                ellipse_pixels(cx, cy, rr, rr, ring=max(1.0, cam.scale(0.07, z))), cls, (28, 28, 30), z, inst
            )
    width = max(1.0, cam.scale(0.06, z))
    if motor:
        body = [p(-0.5, 0.45), p(0.45, 0.4), p(0.55, 0.8), p(0.1, 0.95), p(-0.6, 0.85), p(-0.75, 0.6)]
        canvas.paint(polygon_pixels(body), cls, np.asarray(frame), z, inst)
        canvas.paint(
            line_pixels([p(0.68, 0.31), p(0.5, 1.0), p(0.42, 1.08)], width * 1.5), cls, (40, 40, 42), z, inst
        )
        return dict(seat=(-0.25, 0.95), bar=(0.45, 1.05), pedal=(0.0, 0.45))
    frame_pts = [
        p(-base, r),
        p(-0.12, 0.92),
        p(0.0, 0.32),
        p(-base, r),
        p(0.0, 0.32),
        p(0.4, 0.9),
        p(-0.12, 0.88),
        p(0.4, 0.9),
        p(base, r),
        p(0.4, 0.9),
        p(0.36, 1.06),
    ]
    canvas.paint(line_pixels(frame_pts, width), cls, np.asarray(frame), z, inst)
    canvas.paint(line_pixels([p(-0.22, 0.95), p(-0.02, 0.95)], width * 1.6), cls, (30, 30, 30), z, inst)
    return dict(seat=(-0.12, 0.95), bar=(0.36, 1.06), pedal=(0.05, 0.3))


def draw_rider(canvas: Canvas, thing: Thing) -> None:
    """Cyclist or motorcyclist crossing the view (side view): vehicle first, then the rider."""
    q = thing.params
    cam, z, x, dirn = canvas.cam, thing.z, thing.x, q["direction"]
    motor = q["motorcycle"]
    paint_shadow(canvas, x - 1.0, x + 1.0, z - 0.2, z + 0.4, 0.6)
    vehicle = canvas.new_instance(MOTORCYCLE if motor else BICYCLE, z)
    key = _two_wheeler(canvas, x, z, dirn, motor, q["frame"], vehicle)
    inst = canvas.new_instance(RIDER, z - 0.01)
    p = lambda a, b: cam.to_image(x + dirn * a, b, z - 0.01)  # noqa: E731
    sx, sy = key["seat"]
    bx, by = key["bar"]
    lean = 0.25 if not motor else 0.1
    shoulder = (sx + lean + 0.08, sy + 0.55)
    limb = max(1.0, cam.scale(0.12, z))
    legs = [p(sx, sy), p(sx + 0.22, sy - 0.2), p(key["pedal"][0], key["pedal"][1])]
    canvas.paint(line_pixels(legs, limb * 1.2), RIDER, np.asarray(q["legs"]), z - 0.01, inst)
    torso = [
        p(sx - 0.12, sy - 0.02),
        p(sx + 0.14, sy - 0.02),
        p(shoulder[0] + 0.12, shoulder[1]),
        p(shoulder[0] - 0.14, shoulder[1] - 0.02),
    ]
    canvas.paint(polygon_pixels(torso), RIDER, np.asarray(q["clothes"]), z - 0.01, inst)
    canvas.paint(
        line_pixels([p(*shoulder), p(bx, by + 0.05)], limb * 0.85),
        RIDER,
        np.asarray(q["clothes"]) * 0.85,
        z - 0.01,
        inst,
    )
    hx, hy = p(shoulder[0] + 0.06, shoulder[1] + 0.17)
    rr = cam.scale(0.12, z)
    canvas.paint(ellipse_pixels(hx, hy, rr, rr * 1.1), RIDER, q["skin"], z - 0.01, inst)
    canvas.paint(
        ellipse_pixels(hx, hy - rr * 0.35, rr * 1.1, rr * 0.8),
        RIDER,
        q["helmet"] if motor else (40, 32, 26),
        z - 0.01,
        inst,
    )


def draw_parked(canvas: Canvas, thing: Thing) -> None:
    """Parked bicycle or motorcycle on the sidewalk, seen side-on."""
    motor = thing.kind == "parked_motorcycle"
    inst = canvas.new_instance(MOTORCYCLE if motor else BICYCLE, thing.z)
    _two_wheeler(canvas, thing.x, thing.z, thing.params["direction"], motor, thing.params["frame"], inst)


def draw_sign(canvas: Canvas, x: float, y: float, z: float, shape: str, size: float) -> None:
    """Traffic sign face (circle, triangle, square or diamond) centred at (x, y)."""
    cam = canvas.cam
    inst = canvas.new_instance(TRAFFIC_SIGN, z)
    cx, cy = cam.to_image(x, y, z)
    r = cam.scale(size / 2, z)
    white, red, blue, yellow = (232, 232, 228), (196, 30, 36), (30, 80, 170), (236, 190, 30)
    if shape == "circle":
        outer, inner = (ellipse_pixels(cx, cy, r, r), ellipse_pixels(cx, cy, r * 0.72, r * 0.72))
        colours = (red, white) if hash01(int(x * 100), int(z * 100))[()] < 0.5 else (blue, blue)
    elif shape == "triangle":
        tri = lambda k: [(cx - k * r, cy + 0.8 * k * r), (cx + k * r, cy + 0.8 * k * r), (cx, cy - k * r)]  # noqa: E731
        outer, inner = polygon_pixels(tri(1.0)), polygon_pixels(tri(0.6))
        colours = (red, white)
    elif shape == "diamond":
        dia = lambda k: [(cx - k * r, cy), (cx, cy - k * r), (cx + k * r, cy), (cx, cy + k * r)]  # noqa: E731
        outer, inner = polygon_pixels(dia(1.0)), polygon_pixels(dia(0.65))
        colours = (white, yellow)
    else:

        def sq(k):
            return [
                (cx - k * r, cy - k * r),
                (cx + k * r, cy - k * r),
                (cx + k * r, cy + k * r),
                (cx - k * r, cy + k * r),
            ]

        outer, inner = polygon_pixels(sq(0.85)), polygon_pixels(sq(0.6))
        colours = (blue, white)
    canvas.paint(outer, TRAFFIC_SIGN, colours[0], z, inst)
    canvas.paint(inner, TRAFFIC_SIGN, colours[1], z, inst)


def draw_traffic_light(canvas: Canvas, x: float, y_top: float, z: float, lamp: str) -> None:
    """Traffic-light housing hanging below ``y_top`` with one lit lamp."""
    cam = canvas.cam
    inst = canvas.new_instance(TRAFFIC_LIGHT, z)
    p = cam.to_image
    pix = polygon_pixels(
        [
            p(x - 0.17, y_top, z),
            p(x + 0.17, y_top, z),
            p(x + 0.17, y_top - 0.95, z),
            p(x - 0.17, y_top - 0.95, z),
        ]
    )
    canvas.paint(pix, TRAFFIC_LIGHT, np.array([34, 36, 34]) * canvas.texture(pix), z, inst)
    lit = {"red": 0, "amber": 1, "green": 2}[lamp]
    on_colours = ((250, 60, 40), (250, 170, 30), (60, 240, 130))
    for k in range(3):
        cx, cy = p(x, y_top - 0.17 - 0.3 * k, z)
        r = cam.scale(0.1, z)
        canvas.paint(
            ellipse_pixels(cx, cy, r, r), TRAFFIC_LIGHT, on_colours[k] if k == lit else (54, 54, 50), z, inst
        )


def draw_pole(canvas: Canvas, thing: Thing) -> None:
    """Metal pole, optionally with a lamp arm, a traffic light (on an arm or on top) and a sign."""
    q = thing.params
    cam, x, z, h = canvas.cam, thing.x, thing.z, q["height"]
    inst = canvas.new_instance(POLE, z)
    p = cam.to_image
    pix = polygon_pixels([p(x - 0.08, 0, z), p(x + 0.08, 0, z), p(x + 0.06, h, z), p(x - 0.06, h, z)])
    px, _ = canvas.coords(pix)
    xl, _ = p(x - 0.08, 0, z)
    width = max(cam.scale(0.16, z), 1.0)
    roundness = 0.7 + 0.5 * np.sin(np.pi * np.clip((px - xl) / width, 0, 1))
    canvas.paint(pix, POLE, np.array([118, 122, 126]) * roundness[:, None] * canvas.texture(pix), z, inst)
    inward = -np.sign(x)
    if q.get("arm"):
        end = x + inward * q["arm_length"]
        y_arm = h - 0.1
        canvas.paint(
            line_pixels(
                [p(x, y_arm - 0.3, z), p(x + inward * 0.3, y_arm, z), p(end, y_arm, z)],
                max(1.0, cam.scale(0.08, z)),
            ),
            POLE,
            (112, 116, 120),
            z,
            inst,
        )
        if q["arm"] == "lamp":
            ex, ey = p(end, y_arm - 0.08, z)
            canvas.paint(
                ellipse_pixels(ex, ey, cam.scale(0.32, z), cam.scale(0.1, z)), POLE, (150, 152, 150), z, inst
            )
        else:
            draw_traffic_light(canvas, end, y_arm - 0.05, z - 0.02, q["lamp"])
    if q.get("top_light"):
        draw_traffic_light(canvas, x, h + 0.95, z - 0.02, q["lamp"])
    if q.get("sign"):
        draw_sign(canvas, x, q["sign_height"], z - 0.03, q["sign"], q["sign_size"])


def draw_tree(canvas: Canvas, thing: Thing) -> None:
    """Tree: tapered trunk and a lumpy crown built from a few noisy ellipses, shaded from above."""
    q = thing.params
    cam, x, z = canvas.cam, thing.x, thing.z
    inst = canvas.new_instance(VEGETATION, z)
    trunk_h, radius = q["trunk"], q["radius"]
    pix = polygon_pixels(
        [
            cam.to_image(x - 0.16, 0, z),
            cam.to_image(x + 0.16, 0, z),
            cam.to_image(x + 0.1, trunk_h + radius, z),
            cam.to_image(x - 0.1, trunk_h + radius, z),
        ]
    )
    canvas.paint(pix, VEGETATION, np.array([78, 62, 46]) * canvas.texture(pix, 0.08, 0.05, 0.05), z, inst)
    cy_world = trunk_h + radius
    cx_img, cy_img = cam.to_image(x, cy_world, z)
    r_img = cam.scale(radius, z)
    green = np.asarray(q["green"], np.float32)
    for lx, ly, lr in q["lobes"]:
        ex, ey = cx_img + 0.55 * r_img * lx, cy_img + 0.4 * r_img * ly
        rx, ry = r_img * (0.75 + 0.2 * lr), r_img * (0.65 + 0.15 * lr)
        box = _bbox([ex - rx * 1.3, ex + rx * 1.3], [ey - ry * 1.3, ey + ry * 1.3], 1)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        rows, cols = np.mgrid[y0:y1, x0:x1]
        dist = ((cols + 0.5 - ex) / rx) ** 2 + ((rows + 0.5 - ey) / ry) ** 2
        edge = 1 + 0.35 * canvas.noise_fine[rows, cols] + 0.2 * canvas.noise_mid[rows, cols]
        keep = dist < edge
        pix = rows[keep], cols[keep]
        _, py = canvas.coords(pix)
        light = 0.7 + 0.45 * np.clip((cy_img + r_img - py) / (2 * r_img), 0, 1)
        leaf = 0.78 + 0.28 * canvas.noise_fine[pix] + 0.14 * canvas.grain[pix]
        canvas.paint(pix, VEGETATION, green * (light * leaf)[:, None], z, inst)


def draw_unlabeled(canvas: Canvas, thing: Thing) -> None:
    """Rubbish bin or advertising column: real objects without a class (void)."""
    q = thing.params
    x, z = thing.x, thing.z
    colour = np.asarray(q["colour"], np.float32)
    if thing.kind == "bin":
        box, shade = (x - 0.3, x + 0.3, 0.0, 1.0, z, z + 0.6), colour
    else:
        box, shade = (x - 0.6, x + 0.6, 0.0, 2.8, z, z + 1.2), colour

    def colour_of(face, a, b, pix):
        tex = canvas.texture(pix, 0.05, 0.05, 0.04)
        if thing.kind == "column":
            poster = hash01(np.floor(a / 0.4), np.floor(b / 0.9), q["seed"])
            pal = np.array([[200, 60, 50], [40, 90, 160], [230, 200, 80], [235, 235, 230]])
            out = pal[(poster * 4).astype(int) % 4] * tex
            return np.where((b > 2.55)[:, None], np.array([50, 70, 60]), out)
        return shade * tex * (0.8 if face == "side" else 1.0)

    paint_box(canvas, box, VOID, canvas.new_instance(VOID, z), z, colour_of)


DRAWERS = MappingProxyType(
    {
        "car": draw_car,
        "truck": draw_truck,
        "bus": draw_bus,
        "tram": draw_tram,
        "person": draw_person,
        "rider": draw_rider,
        "parked_bicycle": draw_parked,
        "parked_motorcycle": draw_parked,
        "pole": draw_pole,
        "tree": draw_tree,
        "bin": draw_unlabeled,
        "column": draw_unlabeled,
    }
)


def paint_hood(canvas: Canvas, street: Street) -> None:
    """Ego-vehicle bonnet along the bottom edge (void)."""
    xs, ys = canvas.xs, canvas.ys
    top = HEIGHT - 16 + 10 * ((xs - WIDTH / 2) / (WIDTH / 2)) ** 2
    pix = np.nonzero(ys > top)
    t = np.clip((ys[pix] - top[pix]) / 16, 0, 1)
    highlight = np.exp(-(((ys[pix] - top[pix] - 4) / 2.5) ** 2))
    paint = np.array([40, 44, 52]) * (1.1 - 0.4 * t)[:, None]
    colour = paint + np.asarray(street.sky_horizon) * 0.45 * highlight[:, None]
    canvas.paint(pix, VOID, colour, np.float32(0.0))


def render_street(street: Street, rng: np.random.Generator) -> Canvas:
    """Draw stuff then things (far to near) into a fresh canvas."""
    canvas = Canvas(street.camera, rng)
    paint_sky(canvas, street)
    paint_ground(canvas, street)
    paint_side(canvas, street, street.left)
    paint_side(canvas, street, street.right)
    paint_end_wall(canvas, street)
    for thing in sorted(street.things, key=lambda t: -t.z):
        DRAWERS[thing.kind](canvas, thing)
    if street.hood:
        paint_hood(canvas, street)
    return canvas


# --------------------------------------------------------------------------- photo and ground truth


def finish_photo(canvas: Canvas, street: Street, rng: np.random.Generator) -> Image.Image:
    """Turn the albedo image into a photo: haze, exposure, vignette, blur and grain."""
    rgb = canvas.rgb.copy()
    haze = np.clip(1 - np.exp(-canvas.depth / street.fog), 0, 0.85)
    haze[np.isinf(canvas.depth)] = 0
    rgb = rgb * (1 - haze[..., None]) + np.asarray(street.sky_horizon, np.float32) * haze[..., None]
    gain = rng.uniform(0.92, 1.08) * (1 + rng.uniform(-0.03, 0.03, 3))
    r2 = ((canvas.xs - WIDTH / 2) / (WIDTH / 2)) ** 2 + ((canvas.ys - HEIGHT / 2) / HEIGHT) ** 2
    rgb = rgb * gain * (1 - 0.12 * r2)[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.75))
    grain = rng.normal(0, 2.0, (HEIGHT, WIDTH, 1)) + rng.normal(0, 0.8, (HEIGHT, WIDTH, 3))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + grain, 0, 255).astype(np.uint8))


def fill_from_surroundings(label: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Replace ``hole`` pixels by propagating the labels around them inwards."""
    out, unknown = label.copy(), hole.copy()
    while unknown.any():
        before = unknown.sum()
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            known_nb = shift(~unknown, dy, dx, False)
            take = unknown & known_nb
            out[take] = shift(out, dy, dx, 0)[take]
            unknown &= ~take
        if unknown.sum() == before:  # nothing known anywhere (cannot happen in practice)
            out[unknown] = ROAD
            break
    return out


def ground_truth(canvas: Canvas, street: Street) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth with void, and the complete label map a model "sees" (no void)."""
    gt = canvas.label.copy()
    full = fill_from_surroundings(gt, gt == VOID)
    if street.boundary_void:
        gt[outline_band(full, canvas.depth)] = VOID
    return gt, full


def outline_band(full: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Thin band just outside the outlines of things (on the side of what is behind them)."""
    thing = np.isin(full, THING_CLASSES)
    band = np.zeros_like(thing)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        nb_label = shift(full, dy, dx, VOID)
        in_front = shift(depth, dy, dx, np.inf) < depth * 1.05 + 0.3
        band |= (full != nb_label) & (nb_label != VOID) & shift(thing, dy, dx, False) & in_front
    return band | (dilate(band, 1) & ~thing)


# --------------------------------------------------------------------------- simulated models


@dataclass(frozen=True)
class ModelProfile:
    """How a simulated model errs.  All rates are per image or per instance probabilities."""

    name: str
    seed: int
    warp_px: float  # amplitude of the smooth boundary displacement
    grow: tuple = ()  # (class, radius): class bleeds into its neighbours
    shrink: tuple = ()  # (class, radius): class eroded, filled from surroundings
    confusions: tuple = ()  # (src, dst, p_image, fraction of src pixels)
    swaps: tuple = ()  # (src, dst, p_instance): whole instance relabelled
    misses: tuple = ()  # (class, min_depth, p_instance): instance not detected
    false_positives: float = 2.0  # mean number of spurious blobs per image
    failures: tuple = ()  # (image index, failure kind)


MODELS = (
    ModelProfile(
        name="baseline",
        seed=101,
        warp_px=2.2,
        grow=((CAR, 1), (VEGETATION, 2), (ROAD, 1)),
        shrink=((POLE, 1), (TRAFFIC_SIGN, 1)),
        confusions=(
            (SIDEWALK, ROAD, 0.6, 0.3),
            (TERRAIN, VEGETATION, 0.6, 0.4),
            (WALL, BUILDING, 0.8, 0.6),
            (FENCE, BUILDING, 0.5, 0.4),
            (BUILDING, SKY, 0.25, 0.04),
        ),
        swaps=(
            (TRUCK, CAR, 0.35),
            (RIDER, PERSON, 0.45),
            (BICYCLE, MOTORCYCLE, 0.35),
            (BUS, TRUCK, 0.2),
            (TRAIN, BUS, 0.25),
            (MOTORCYCLE, BICYCLE, 0.3),
        ),
        misses=(
            (POLE, 25.0, 0.6),
            (TRAFFIC_SIGN, 20.0, 0.5),
            (PERSON, 30.0, 0.6),
            (TRAFFIC_LIGHT, 30.0, 0.4),
        ),
        false_positives=3.0,
        failures=((3, "road_as_sidewalk"), (10, "sky_as_building"), (19, "hallucinated_cars")),
    ),
    ModelProfile(
        name="candidate",
        seed=202,
        warp_px=1.3,
        grow=((VEGETATION, 1),),
        shrink=((POLE, 1), (TRAFFIC_SIGN, 1)),
        confusions=(
            (SIDEWALK, ROAD, 0.4, 0.2),
            (TERRAIN, VEGETATION, 0.9, 0.6),
            (WALL, BUILDING, 0.5, 0.35),
            (FENCE, BUILDING, 0.2, 0.15),
        ),
        swaps=((TRUCK, CAR, 0.3), (RIDER, PERSON, 0.3), (BICYCLE, MOTORCYCLE, 0.3), (TRAIN, BUS, 0.15)),
        misses=(
            (POLE, 12.0, 0.75),
            (TRAFFIC_SIGN, 30.0, 0.3),
            (PERSON, 45.0, 0.4),
            (TRAFFIC_LIGHT, 40.0, 0.3),
        ),
        false_positives=1.5,
        failures=((7, "building_as_vegetation"), (15, "hallucinated_cars"), (20, "vegetation_as_terrain")),
    ),
)

# Plausible false-positive class given the class the blob lands on.
FALSE_POSITIVE_FOR = MappingProxyType(
    {
        ROAD: (SIDEWALK, CAR),
        SIDEWALK: (PERSON, TERRAIN, POLE, ROAD),
        BUILDING: (VEGETATION, POLE, TRAFFIC_SIGN, WALL),
        VEGETATION: (TERRAIN, BUILDING),
        TERRAIN: (VEGETATION, SIDEWALK),
        SKY: (VEGETATION, BUILDING),
        CAR: (TRUCK,),
        WALL: (FENCE, BUILDING),
        FENCE: (WALL, VEGETATION),
    }
)
# Blob half-heights and half-widths (pixel ranges) of false positives, by predicted class.
FALSE_POSITIVE_SHAPE = MappingProxyType(
    {
        POLE: ((10, 30), (0.8, 1.8)),
        TRAFFIC_SIGN: ((2, 4), (2, 4)),
        PERSON: ((6, 14), (2.5, 5)),
        CAR: ((5, 10), (10, 20)),
        TRUCK: ((5, 12), (8, 16)),
    }
)


def _region(rng, mask: np.ndarray, fraction: float, cells=(10, 5)) -> np.ndarray:
    """A spatially coherent part (about ``fraction``) of ``mask``, cut by smooth noise."""
    if not mask.any() or fraction <= 0:
        return np.zeros_like(mask)
    noise = smooth_noise(rng, *cells)
    threshold = np.quantile(noise[mask], 1 - min(fraction, 1.0))
    return mask & (noise >= threshold)


def _blob(rng, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """Irregular filled blob around (cx, cy), as a full-frame mask."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    box = _bbox([cx - 1.5 * rx, cx + 1.5 * rx], [cy - 1.5 * ry, cy + 1.5 * ry], 1)
    if box is None:
        return mask
    x0, y0, x1, y1 = box
    rows, cols = np.mgrid[y0:y1, x0:x1]
    grid = Image.fromarray(rng.standard_normal((5, 5)).astype(np.float32))
    wobble = np.asarray(grid.resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC))
    dist = ((cols + 0.5 - cx) / rx) ** 2 + ((rows + 0.5 - cy) / ry) ** 2
    mask[y0:y1, x0:x1] = dist < 1 + 0.3 * wobble
    return mask


def false_positive(rng, pred: np.ndarray) -> np.ndarray:
    """Add one spurious blob whose class and shape suit the class it lands on."""
    cy, cx = int(rng.integers(HEIGHT)), int(rng.integers(WIDTH))
    host = int(pred[cy, cx])
    if host not in FALSE_POSITIVE_FOR:
        return pred
    options = FALSE_POSITIVE_FOR[host]
    cls = options[rng.integers(len(options))]
    ry, rx = FALSE_POSITIVE_SHAPE.get(cls, ((3, 10), (3, 12)))
    ry, rx = rng.uniform(*ry), rng.uniform(*rx)
    pred = pred.copy()
    pred[_blob(rng, cy, cx, ry, rx) & (pred == host)] = cls
    return pred


def apply_failure(rng, pred: np.ndarray, kind: str) -> np.ndarray:
    """One gross, image-level failure of a model."""
    pred = pred.copy()
    if kind == "road_as_sidewalk":
        pred[_region(rng, pred == ROAD, 0.6, (3, 2))] = SIDEWALK
    elif kind == "sky_as_building":
        pred[_region(rng, pred == SKY, 0.85, (3, 2))] = BUILDING
    elif kind == "building_as_vegetation":
        pred[_region(rng, pred == BUILDING, 0.5, (3, 2))] = VEGETATION
    elif kind == "vegetation_as_terrain":
        pred[_region(rng, pred == VEGETATION, 0.75, (3, 2))] = TERRAIN
    elif kind == "hallucinated_cars":
        road_rows, road_cols = np.nonzero((pred == ROAD) | (pred == SIDEWALK))
        for size in (1.2, 0.8, 0.5):
            pick = rng.integers(road_rows.size)
            cy, cx = road_rows[pick], road_cols[pick]
            ry, rx = 26 * size, 50 * size
            pred[_blob(rng, cy - ry * 0.6, cx, ry, rx)] = CAR
    return pred


def _instance_masks(canvas: Canvas, ids) -> dict:
    """Full-frame masks of the given instance ids."""
    return {i: canvas.instance == i for i in ids}


def predict(canvas: Canvas, full: np.ndarray, model: ModelProfile, index: int) -> np.ndarray:
    """Simulated prediction of ``model`` for one image (values 0..18, never void)."""
    rng = np.random.default_rng(model.seed * 1000 + index)
    pred = full.copy()
    instances = canvas.instances
    present = np.unique(canvas.instance)
    masks = _instance_masks(canvas, [i for i in present if i > 0 and instances[i][0] in THING_CLASSES])
    missed = np.zeros(pred.shape, bool)
    for i, mask in masks.items():
        cls, depth = instances[i]
        for src, min_depth, p in model.misses:
            if cls == src and (depth > min_depth or mask.sum() < 30) and rng.random() < p:
                missed |= mask
        for src, dst, p in model.swaps:
            if cls == src and rng.random() < p:
                pred[mask & ~missed & (pred == src)] = dst
    pred = fill_from_surroundings(pred, missed & np.isin(pred, THING_CLASSES)) if missed.any() else pred
    for src, dst, p_image, fraction in model.confusions:
        if rng.random() < p_image:
            pred[_region(rng, pred == src, rng.uniform(0.5, 1.5) * fraction)] = dst
    for cls, radius in model.shrink:
        if rng.random() < 0.7:  # thin structures come out thinner (or vanish) in most images
            mask = pred == cls
            lost = mask & ~erode(mask, radius)
            if lost.any():
                pred = fill_from_surroundings(pred, lost)
    for cls, radius in model.grow:
        pred[dilate(pred == cls, radius)] = cls
    for image, kind in model.failures:
        if image == index:
            pred = apply_failure(rng, pred, kind)
    for _ in range(rng.poisson(model.false_positives)):
        pred = false_positive(rng, pred)
    return warp(rng, pred, model.warp_px)


def warp(rng, label: np.ndarray, amplitude: float) -> np.ndarray:
    """Resample a label map through a smooth random displacement field (shifts boundaries)."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    dy = np.rint(rows + amplitude * smooth_noise(rng, 14, 5)).astype(int)
    dx = np.rint(cols + amplitude * smooth_noise(rng, 14, 4)).astype(int)
    return label[np.clip(dy, 0, HEIGHT - 1), np.clip(dx, 0, WIDTH - 1)]


# --------------------------------------------------------------------------- confidence

#: How sure a model is of each class far from any boundary (thin and rare things less so).
CLASS_CONFIDENCE = (
    0.985,
    0.9,
    0.96,
    0.78,
    0.78,
    0.76,
    0.8,
    0.82,
    0.94,
    0.86,
    0.985,
    0.86,
    0.76,
    0.95,
    0.78,
    0.82,
    0.76,
    0.72,
    0.72,
)
#: The class a model hesitates towards when it is right (second most probable class).
CONFUSABLE = (
    SIDEWALK,
    ROAD,
    WALL,
    BUILDING,
    WALL,
    TRAFFIC_SIGN,
    POLE,
    POLE,
    TERRAIN,
    VEGETATION,
    BUILDING,
    RIDER,
    PERSON,
    TRUCK,
    BUS,
    TRUCK,
    BUS,
    BICYCLE,
    MOTORCYCLE,
)
#: Which model also gets full probabilities (prob/MODEL/NAME.npz) instead of a confidence PNG.
PROBABILITY_MODEL = "candidate"


def boundary_distance(label: np.ndarray, steps: int = 5) -> np.ndarray:
    """Steps (0..steps) from the nearest pixel whose 4-neighbours differ from it."""
    edge = np.zeros(label.shape, bool)
    across, down = label[:, 1:] != label[:, :-1], label[1:] != label[:-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    edge[1:] |= down
    edge[:-1] |= down
    dist = np.full(label.shape, steps, np.float32)
    grown = edge
    for step in range(steps):
        dist[grown & (dist == steps)] = step
        grown = dilate(grown, 1)
    return dist


def confidence(pred: np.ndarray, full: np.ndarray, model: ModelProfile, index: int) -> np.ndarray:
    """Top-1 confidence of a simulated prediction (float, smooth): high inside regions, lower near
    boundaries and on most mistakes (but some mistakes are confident); ``baseline`` is
    overconfident, ``candidate`` close to calibrated."""
    rng = np.random.default_rng(model.seed * 1000 + index + 7_000_000)  # its own stream
    base = np.asarray(CLASS_CONFIDENCE, np.float32)[pred]
    near = 1 - boundary_distance(pred) / 5
    p = base - 0.32 * near
    penalty = np.clip(0.24 + 0.14 * smooth_noise(rng, 6, 3), 0.04, 0.5)
    p = p - penalty * (pred != full)
    p = p + 0.025 * smooth_noise(rng, 12, 6)
    if model.name == "baseline":
        return np.clip(p, 0.3, 0.999) ** 0.6
    return np.clip(p + 0.03, 0.45, 0.995)


def probabilities(pred: np.ndarray, full: np.ndarray, top: np.ndarray) -> np.ndarray:
    """uint8 (19, H, W) probabilities · 255 summing to exactly 255 per pixel: ``top`` on the
    predicted class, 80 % of the rest on the true class where the prediction is wrong (else on a
    confusable class), the remainder on one more class."""
    q_top = np.rint(top * 255).astype(np.int32)
    rest = 255 - q_top
    second = np.rint(0.8 * rest).astype(np.int32)
    alt = np.where(pred != full, full, np.asarray(CONFUSABLE)[pred])
    third = np.where(
        (alt != ROAD) & (pred != ROAD), ROAD, np.where((alt != SKY) & (pred != SKY), SKY, BUILDING)
    )
    out = np.zeros((len(CLASSES), *pred.shape), np.uint8)
    rows, cols = np.indices(pred.shape)
    out[third, rows, cols] = rest - second
    out[alt, rows, cols] = second
    out[pred, rows, cols] = q_top
    return out


def save_npz(path: Path, array: np.ndarray) -> None:
    """Deterministic compressed .npz holding ``probs`` (fixed timestamps, unlike np.savez_compressed)."""
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    info = zipfile.ZipInfo("probs.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, buf.getvalue(), compresslevel=9)


def write_confidence(root: Path, model: ModelProfile, name: str, pred, full, index: int) -> None:
    """``conf/MODEL/NAME.png`` (8-bit, round(255·p)), or for PROBABILITY_MODEL ``prob/MODEL/NAME.npz``."""
    top = confidence(pred, full, model, index)
    if model.name == PROBABILITY_MODEL:
        save_npz(root / "prob" / model.name / f"{name}.npz", probabilities(pred, full, top))
    else:
        Image.fromarray(np.rint(top * 255).astype(np.uint8)).save(root / "conf" / model.name / f"{name}.png")


# --------------------------------------------------------------------------- output


def write_classes(path: Path) -> None:
    """Write ``classes.csv`` (19 Cityscapes train classes plus void)."""
    lines = ["id,name,r,g,b,ignore"]
    lines += [f"{cid},{name},{r},{g},{b},0" for cid, name, (r, g, b) in CLASSES]
    lines.append(f"{VOID},void,0,0,0,1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def make_image(index: int, out: Path) -> None:
    """Generate photo, ground truth, both predictions and their confidence for image ``index``;
    the last NUM_UNLABELLED indices go to ``unlabelled/`` without ground truth."""
    name = f"street_{index:03d}"
    labelled = index < NUM_IMAGES
    root = out if labelled else out / "unlabelled"
    street = sample_street(index)
    rng = np.random.default_rng(BASE_SEED + 10_000 + index)
    canvas = render_street(street, rng)
    finish_photo(canvas, street, rng).save(root / "images" / f"{name}.jpg", "JPEG", quality=JPEG_QUALITY)
    gt, full = ground_truth(canvas, street)
    if labelled:
        Image.fromarray(gt).save(out / "gt" / f"{name}.png")
    for model in MODELS:
        pred = predict(canvas, full, model, index)
        Image.fromarray(pred.astype(np.uint8)).save(root / "pred" / model.name / f"{name}.png")
        write_confidence(root, model, name, pred, full, index)


def generate(out: Path, jobs: int = 1) -> None:
    """(Re)create the whole dataset under ``out``, using ``jobs`` worker processes.

    Images are independent and seeded by index, so the output does not depend on ``jobs``.
    """
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("images", "gt", "pred", "conf", "prob", "unlabelled"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "gt").mkdir()
    for root in (out, out / "unlabelled"):
        (root / "images").mkdir(parents=True)
        for model in MODELS:
            (root / "pred" / model.name).mkdir(parents=True)
            kind = "prob" if model.name == PROBABILITY_MODEL else "conf"
            (root / kind / model.name).mkdir(parents=True)
    write_classes(out / "classes.csv")
    total = NUM_IMAGES + NUM_UNLABELLED
    if jobs <= 1:
        for index in range(total):
            make_image(index, out)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(make_image, range(total), [out] * total))


def main(argv=None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: the folder of this script)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="worker processes (default: number of CPUs, at most 8)",
    )
    args = parser.parse_args(argv)
    generate(args.out, args.jobs)
    print(
        f"wrote {NUM_IMAGES} images, ground truths, {len(MODELS)} prediction sets with confidence and "
        f"{NUM_UNLABELLED} unlabelled images to {args.out}"
    )


if __name__ == "__main__":
    main()
