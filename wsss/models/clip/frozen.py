"""What every model over a frozen CLIP shares (CLIP-ES, FMA-WSSS, the relevancy seeder, TUSS's
zero-shot step): the CLIP and its text encoder, the normalisation statistics of its images, the
image-level labels of a sample, and checkpoints that keep only what is learned."""
from typing import Dict

import numpy as np
import open_clip
import torch
from mmseg.structures import SegDataSample
from torch import nn

from .encoder import build_clip
from .text import TextEncoder, build_tokenizer

# the frozen parts a checkpoint leaves out: the CLIP and the dense encoder over its ViT
FROZEN_PREFIXES = ('clip.', 'encoder.')


class FrozenCLIP:
    """Mixin of the ``BaseModel`` subclasses that run a frozen CLIP.

    :meth:`build_frozen_clip` sets ``self.clip`` (:func:`build_clip`), ``self.text`` (a
    :class:`TextEncoder` with the model's tokenizer) and the non-persistent buffers ``mean`` and
    ``std`` (the CLIP's image statistics, OpenAI's when the model names none, times
    ``pixel_scale``), and registers the checkpoint hooks: a state dict drops
    :data:`FROZEN_PREFIXES`, and loading one restores them from the module itself, so a
    checkpoint of learned prompts holds the prompts only. The subclass builds ``self.encoder``.
    """

    def build_frozen_clip(self, clip: Dict, pixel_scale: float = 255.) -> None:
        self.clip = build_clip(**clip)
        self.text = TextEncoder(self.clip, build_tokenizer(clip.get('name', 'ViT-B-16'),
                                                           clip.get('model_cfg')))
        mean = getattr(self.clip.visual, 'image_mean', None) or open_clip.OPENAI_DATASET_MEAN
        std = getattr(self.clip.visual, 'image_std', None) or open_clip.OPENAI_DATASET_STD
        self.register_buffer('mean', torch.tensor(mean).view(3, 1, 1) * pixel_scale,
                             persistent=False)
        self.register_buffer('std', torch.tensor(std).view(3, 1, 1) * pixel_scale,
                             persistent=False)
        self._register_state_dict_hook(_drop_frozen)
        self._register_load_state_dict_pre_hook(_restore_frozen, with_module=True)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) or (B, 3, H, W) uint8 BGR -> (1 or B, 3, H, W) CLIP-normalised RGB float
        (with ``pixel_scale`` 255)."""
        rgb = image.to(self.mean.device).float().flip(-3)
        out = (rgb - self.mean) / self.std
        return out if out.ndim == 4 else out[None]

    def sample_labels(self, sample: SegDataSample) -> torch.Tensor:
        """(C,) multi-hot image-level labels of a data sample, on the model's device."""
        return torch.as_tensor(np.asarray(sample.metainfo['img_labels']), device=self.mean.device)


def _drop_frozen(module: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    for key in [k for k in state_dict if k[len(prefix):].startswith(FROZEN_PREFIXES)]:
        del state_dict[key]


def _restore_frozen(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Checkpoints lack the frozen CLIP (see ``_drop_frozen``): take the module's own."""
    for name in FROZEN_PREFIXES:
        part = getattr(module, name.rstrip('.'), None)
        if part is None:
            continue
        for key, value in part.state_dict(prefix=prefix + name).items():
            state_dict.setdefault(key, value)
