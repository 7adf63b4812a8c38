"""The seeder contract: how a stage-one model hands an image's class maps to the step that turns
them into a seed, and what a seeder declares it can do (docs/adding_a_method.md)."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ...registry import SEEDERS


class Seeder:
    """Base of every seeder: ``seeder(cams, class_ids, metainfo) -> (seed, confidence)``.

    Receives:
        cams: (K, H, W) float tensor, one map per labelled class at the image's original size;
            in [0, 1] (normalised CAMs, relevancy maps), or raw GradCAMs when the model runs
            with ``raw_cam=True``, which it allows only for a seeder that ``takes_raw_cams``.
        class_ids: the K class ids (1..C) of the rows; K may be 0 (an image without labels).
        metainfo: the data sample's metainfo (``img_path``, ``img_name``, ``ori_shape``, ...).

    Returns:
        a uint8 (H, W) seed (0 background, 1..C the classes, 255 ignore) and a float32 (H, W)
        confidence in [0, 1].

    Declares (class attributes, read by the models and tools):
        takes_raw_cams: scores raw GradCAMs itself (SAMS normalises per mask).
        runs_in_pool: may run in the seed writer's CPU worker pool instead of the model's
            process (``defer_seeding``): picklable, CPU only, nothing kept between images.
            False for a seeder that holds a network (SAM) on the model's device.
        reads_float16: rounds its maps to float16 itself, so float16 CAM files give the seeds
            of float32 ones (``tools/generate_seeds.py --cams-only`` stores them so, at half the
            disk; CLIP-ES's released CRF).
    """

    takes_raw_cams = False
    runs_in_pool = True
    reads_float16 = False

    def follow_model(self, released: bool) -> None:
        """Called once by the stage-one model with its ``released`` switch: a seeder whose own
        choice of released or clean path is left open takes the model's (``CRFSeeder``)."""

    def __call__(self, cams: torch.Tensor, class_ids: Sequence[int],
                 metainfo: dict) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class ClickSeeder(Seeder):
    """A seeder that prompts a segmenter with clicks taken from the maps: :meth:`clicks` gives
    them, and a call given ``clicks=`` uses those instead of computing them again (the model
    stores them with the seed)."""

    runs_in_pool = False

    def clicks(self, cams: torch.Tensor) -> torch.Tensor:
        """(K, n, 2) click points (x, y) in pixels of (K, H, W) maps."""
        raise NotImplementedError


def check_seeder(seeder: object, setting: str = 'model.seeder') -> Seeder:
    """``seeder`` if it is a :class:`Seeder`, else a one-line error naming the setting."""
    if not isinstance(seeder, Seeder):
        raise TypeError(f'{setting}: {type(seeder).__name__} is not a seeder; a seeder '
                        'subclasses wsss.models.seeders.Seeder (docs/adding_a_method.md)')
    return seeder


def build_seeder(cfg: Optional[Dict], released: bool, setting: str = 'model.seeder') -> Seeder:
    """The seeder of config ``cfg`` (None: argmax with background power 1), told the stage-one
    model's ``released`` switch; the model and the CPU job over saved CAMs
    (tools/seed_from_cams.py) build it alike."""
    seeder = check_seeder(SEEDERS.build(cfg or dict(type='ArgmaxSeeder')), setting)
    seeder.follow_model(released)
    return seeder


def model_seeder(model: Dict, seeder_type: Optional[str] = None,
                 options: Optional[Dict] = None) -> Seeder:
    """The seeder of a stage-one model config (``model.seeder`` with the model's ``released``,
    whose default is CLIPCAMModel's: the reproduction path), without building the model; or a
    fresh ``seeder_type`` in its place. ``options`` are set on top."""
    cfg = dict(type=seeder_type) if seeder_type else dict(model.get('seeder') or {})
    if options:
        cfg.update(options)
    return build_seeder(cfg or None, model.get('released', True))
