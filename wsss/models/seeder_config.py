"""The seeder of a stage-one model config, built the same way by the model and by the CPU job
that seeds saved CAMs (tools/seed_from_cams.py)."""
from typing import Callable, Dict, Optional

from ..registry import SEEDERS


def build_seeder(cfg: Optional[Dict], released: bool) -> Callable:
    """The SEEDERS entry ``cfg`` (None: argmax with background power 1); a seeder whose own
    ``released`` is None (``CRFSeeder``) follows the model's ``released``."""
    seeder = SEEDERS.build(cfg or dict(type='ArgmaxSeeder'))
    if getattr(seeder, 'released', False) is None:
        seeder.released = released
    return seeder


def model_seeder(model: Dict, seeder_type: Optional[str] = None,
                 options: Optional[Dict] = None) -> Callable:
    """The seeder of a stage-one model config (``model.seeder`` with the model's ``released``,
    whose default is CLIPCAMModel's: the reproduction path), without building the model; or a
    fresh ``seeder_type`` in its place. ``options`` are set on top."""
    cfg = dict(type=seeder_type) if seeder_type else dict(model.get('seeder') or {})
    if options:
        cfg.update(options)
    return build_seeder(cfg or None, model.get('released', True))
