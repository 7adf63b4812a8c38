"""The one place that owns class names, CLIP-ES synonyms and background words (the palette of
label maps belongs to their format, :mod:`wsss.io.seeds`).

Class ids: 0 = background, 1..C = foreground in the order below, 255 = ignore.
"""
from typing import Dict, Sequence, Tuple

VOC12_CLASSES: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
    'tvmonitor')

COCO14_CLASSES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')

# Prompt names: a comma-separated list of synonyms is embedded as one prompt. These are the clean
# lists (CLIP-ES's synonyms, real words); the released ones follow.
VOC12_PROMPT_NAMES: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
    'cow', 'table', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
    'potted plant', 'sheep', 'sofa', 'train', 'tvmonitor screen')

COCO14_PROMPT_NAMES: Tuple[str, ...] = (
    'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench',
    'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
    'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase', 'frisbee',
    'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon', 'bowl',
    'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
    'cake', 'chair seat', 'sofa', 'potted plant', 'bed', 'table', 'toilet', 'tvmonitor screen',
    'laptop', 'mouse', 'remote control', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
    'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hairdrier,blowdrier', 'toothbrush')

# The prompt names of the authors' released code, verbatim (CLIP-ES's ``new_class_names`` and
# ``new_class_names_coco``; FMA-WSSS uses the same lists): 'diningtable' and 'pottedplant' written
# as one word, and COCO's typo 'sknowboard'. Each changes that class's text embedding, so the
# reproduction configs (``released=True``) use these.
RELEASED_VOC12_PROMPT_NAMES: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
    'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen')

RELEASED_COCO14_PROMPT_NAMES: Tuple[str, ...] = (
    'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench',
    'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
    'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase', 'frisbee',
    'skis', 'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza',
    'donut', 'cake', 'chair seat', 'sofa', 'pottedplant', 'bed', 'diningtable', 'toilet',
    'tvmonitor screen', 'laptop', 'mouse', 'remote control', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hairdrier,blowdrier', 'toothbrush')

VOC12_BACKGROUND_WORDS: Tuple[str, ...] = (
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea',
    'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road',
    'rock', 'street', 'valley', 'bridge', 'sign')

COCO14_BACKGROUND_WORDS: Tuple[str, ...] = tuple(
    w for w in VOC12_BACKGROUND_WORDS if w not in ('keyboard', 'sign'))

# Own data given class names only: CLIP-ES's COCO list, words for scenery and stuff rather than
# objects. A softmax over the labelled classes alone has no gradient for a single-label image
# (all-background seeds), so some background words are always needed; a word that is also one of
# the classes is dropped (:func:`default_background_words`).
DEFAULT_BACKGROUND_WORDS: Tuple[str, ...] = COCO14_BACKGROUND_WORDS


def default_background_words(class_names: Sequence[str]) -> Tuple[str, ...]:
    """:data:`DEFAULT_BACKGROUND_WORDS` without the words among ``class_names`` (prompt names;
    comma-separated synonyms count each), compared in lower case."""
    names = {n.strip().lower() for name in class_names for n in name.split(',')}
    return tuple(w for w in DEFAULT_BACKGROUND_WORDS if w not in names)


DATASET_CLASSES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'voc12': dict(classes=VOC12_CLASSES, prompt_names=VOC12_PROMPT_NAMES,
                  released_prompt_names=RELEASED_VOC12_PROMPT_NAMES,
                  background_words=VOC12_BACKGROUND_WORDS),
    'coco14': dict(classes=COCO14_CLASSES, prompt_names=COCO14_PROMPT_NAMES,
                   released_prompt_names=RELEASED_COCO14_PROMPT_NAMES,
                   background_words=COCO14_BACKGROUND_WORDS),
}


def with_background(classes: Sequence[str]) -> Tuple[str, ...]:
    """The mmseg class tuple: 'background' at id 0, then the foreground classes."""
    return ('background', *classes)


# TUSS zero-shot vocabularies (docs/tuss.md §4.2): the foreground names of the released
# code in dataset order (a comma inside a name is part of the prompt), then its background words
# (VOC: the 25 CLIP-ES words; COCO: ``es_bg_names``, the same without 'keyboard' and 'sign').
TUSS_VOC12_FOREGROUND: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
    'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen')

TUSS_COCO14_FOREGROUND: Tuple[str, ...] = (
    'person, person in shirt, person in jeans, person in dress, person in sweater, '
    'person in skirt, person in jacket, body',
    *COCO14_CLASSES[1:])

TUSS_VOCABULARIES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'voc12': dict(foreground=TUSS_VOC12_FOREGROUND, background=VOC12_BACKGROUND_WORDS),
    'coco14': dict(foreground=TUSS_COCO14_FOREGROUND, background=COCO14_BACKGROUND_WORDS),
}
