"""Text side of a frozen CLIP: prompt templates and cached class embeddings."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from torch import nn

# CLIP-ES's template, chosen there by the sharpness of the class softmax.
CLIP_ES_TEMPLATE = 'a clean origami {}.'

# ViLD's 14 prompt templates (Gu et al., ICLR 2022), verbatim: some lack the final period. A class
# embedding is the normalised mean of its normalised per-template embeddings
# (``TextEncoder.encode_classes(names, VILD_TEMPLATES)``).
VILD_TEMPLATES = (
    'a photo of a {}.', 'This is a photo of a {}', 'There is a {} in the scene',
    'There is the {} in the scene', 'a photo of a {} in the scene', 'a photo of a small {}.',
    'a photo of a medium {}.', 'a photo of a large {}.', 'This is a photo of a small {}.',
    'This is a photo of a medium {}.', 'This is a photo of a large {}.',
    'There is a small {} in the scene.', 'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)

Templates = Union[str, Sequence[str]]


def build_tokenizer(name: str = 'ViT-B-16', model_cfg: Optional[dict] = None):
    """open_clip's tokenizer for ``name``; for a custom ``model_cfg``, CLIP's BPE tokenizer
    (bundled with open_clip, needs no download) at the config's context length."""
    if model_cfg is None:
        return open_clip.get_tokenizer(name)
    text_cfg = model_cfg.get('text_cfg', {})
    context_length = text_cfg.get('context_length', open_clip.tokenizer.DEFAULT_CONTEXT_LENGTH)
    if text_cfg.get('hf_tokenizer_name'):
        return open_clip.tokenizer.HFTokenizer(text_cfg['hf_tokenizer_name'],
                                               context_length=context_length)
    return open_clip.SimpleTokenizer(context_length=context_length)


def format_prompts(names: Sequence[str], template: str) -> List[str]:
    """One prompt per name. A name that is a comma-separated list of synonyms
    (``'person with clothes,people,human'``) is formatted as is: one prompt, one embedding."""
    return [template.format(name) for name in names]


def encode_prompt_embeddings(model: nn.Module, embeddings: torch.Tensor,
                             tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` from token embeddings instead of token ids (not normalised).

    For learned prompts (CoOp): ``embeddings`` (N, L, width) replace ``token_embedding(tokens)``,
    e.g. with some positions holding learnable context vectors; ``tokens`` (N, L) are the ids
    the embeddings stand for, used only to find where to pool (the end-of-text token).
    The steps are those of open_clip's ``CLIP.encode_text``.
    """
    if not isinstance(model, open_clip.CLIP):
        raise TypeError(f'prompt embeddings need an open_clip CLIP, got {type(model).__name__}')
    cast_dtype = model.transformer.get_cast_dtype()
    x = embeddings.to(cast_dtype) + model.positional_embedding.to(cast_dtype)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
    x = text_global_pool(x, tokens, model.text_pool_type,
                         eos_token_id=getattr(model, 'text_eos_id', None))
    projection = model.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, nn.Linear) else x @ projection


class TextEncoder:
    """L2-normalised CLIP text embeddings of class names, cached per (names, templates).

    The model is frozen, so an embedding never changes: repeated calls with the same class list
    and template cost a dictionary lookup.
    """

    def __init__(self, model: nn.Module, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self._cache: Dict[Tuple, torch.Tensor] = {}

    @property
    def device(self) -> torch.device:
        return self.model.logit_scale.device

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, D) L2-normalised embeddings of free texts (not cached)."""
        tokens = self.tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def encode_classes(self, names: Sequence[str],
                       template: Templates = CLIP_ES_TEMPLATE) -> torch.Tensor:
        """(N, D) L2-normalised embeddings of class names under one template or several.

        With several templates, a class embedding is the normalised mean of its normalised
        per-template embeddings (CLIP's zero-shot ensembling).
        """
        templates = (template,) if isinstance(template, str) else tuple(template)
        key = (tuple(names), templates, self.device)
        if key not in self._cache:
            per_template = [self.encode_text(format_prompts(names, t)) for t in templates]
            self._cache[key] = F.normalize(torch.stack(per_template).mean(dim=0), dim=-1)
        return self._cache[key]
