"""CoOp prompt learner: learnable context vectors in front of (or behind) class names.

FMA-WSSS trains two prompt sets over a frozen CLIP (docs/fma_wsss.md):

==========  ========================  ===================================================
dataset     classification stage      segmentation stage
==========  ========================  ===================================================
VOC         shared context, name at   class-specific contexts, name at the front; the 25
            the end; 20 names + the   background words become 25 empty names, i.e. 25
            25 background words       learnable background prompts
COCO        shared context, name at   as classification: shared context, name at the end,
            the end; 80 names + the   80 names + the 23 background words
            23 background words
==========  ========================  ===================================================

:meth:`PromptLearner.from_dataset` builds these four configurations.
"""
from typing import List, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

from ...datasets.class_names import DATASET_CLASSES
from ..clip import encode_prompt_embeddings

CLASS_TOKEN_POSITIONS = ('end', 'front')

# (dataset, stage) -> FMA-WSSS's settings in its released configs; empty_background: how many
# empty (learnable) background prompts replace the dataset's background words (0: keep the words);
# ctx_std: the std of the contexts' normal initialisation
FMA_PROMPT_SETTINGS = {
    ('voc12', 'cls'): dict(shared_context=True, class_token_position='end', empty_background=0,
                           ctx_std=0.015),
    ('voc12', 'seg'): dict(shared_context=False, class_token_position='front',
                           empty_background=25, ctx_std=0.0125),
    ('coco14', 'cls'): dict(shared_context=True, class_token_position='end', empty_background=0,
                            ctx_std=0.015),
    ('coco14', 'seg'): dict(shared_context=True, class_token_position='end', empty_background=0,
                            ctx_std=0.015),
}


class PromptLearner(nn.Module):
    """Learnable prompts [SOS] + n_ctx context vectors + name tokens + "." + [EOS] (CoOp).

    With ``class_token_position='front'`` a prompt is [SOS] + name + context + "." + [EOS],
    CoOp's 'front' layout. An empty name ('') gives a prompt of context vectors only: a learnable
    prompt with no word in it (FMA's learnable background prompts). A name with comma-separated
    synonyms is just text: one prompt.

    Only the context vectors are parameters, and the only entry of the state dict. The token ids
    and the frozen word embeddings of the whole prompt (prefix, name, suffix) are buffers rebuilt
    from the names; the context positions hold the placeholder 'X' (as in CoOp), whose ids mark
    where the contexts go and let the text encoder pool at [EOS]. The context parameters stay
    fp32 (optimiser master weights) and are cast to the CLIP model's dtype in ``forward``.

    The CLIP model is referenced, not owned: it is not a submodule, so it stays out of this
    module's parameters and state dict (the stage-one model owns it and moves it with itself).

    Args:
        clip_model: a frozen open_clip ``CLIP``.
        tokenizer: open_clip's ``SimpleTokenizer`` (CLIP's BPE; :func:`build_tokenizer`).
        class_names: one name per foreground class (ids 1..C).
        background_names: background prompts, after the classes; '' for a learnable one.
        n_ctx: context vectors per prompt.
        ctx_std: std of the normal initialisation of the contexts.
        shared_context: one context for all prompts, else one per prompt (CoOp's CSC).
        class_token_position: 'end' or 'front'.
    """

    def __init__(self, clip_model: nn.Module, tokenizer, class_names: Sequence[str],
                 background_names: Sequence[str] = (), n_ctx: int = 16, ctx_std: float = 0.0125,
                 shared_context: bool = True, class_token_position: str = 'end') -> None:
        super().__init__()
        if class_token_position not in CLASS_TOKEN_POSITIONS:
            raise ValueError(f'class_token_position must be one of {CLASS_TOKEN_POSITIONS}, got '
                             f'{class_token_position!r}')
        if n_ctx < 1:
            raise ValueError(f'n_ctx must be at least 1, got {n_ctx}')
        if not isinstance(tokenizer, open_clip.SimpleTokenizer):
            raise TypeError(f'PromptLearner needs open_clip.SimpleTokenizer (CLIP\'s BPE), got '
                            f'{type(tokenizer).__name__}')
        self.class_names = tuple(class_names)
        self.background_names = tuple(background_names)
        self.n_ctx = n_ctx
        self.shared_context = shared_context
        self.class_token_position = class_token_position
        self._clip = (clip_model,)  # a tuple, so nn.Module does not register it

        names = self.class_names + self.background_names
        context_length = clip_model.positional_embedding.shape[0]
        tokens, ctx_mask = zip(*(self._prompt_tokens(tokenizer, name, context_length)
                                 for name in names))
        tokens = torch.stack(tokens).to(clip_model.positional_embedding.device)
        self.register_buffer('tokens', tokens, persistent=False)
        self.register_buffer('ctx_mask', torch.stack(ctx_mask).to(tokens.device),
                             persistent=False)
        with torch.no_grad():
            self.register_buffer('token_embeds', clip_model.token_embedding(tokens),
                                 persistent=False)
        width = self.token_embeds.shape[-1]
        shape = (n_ctx, width) if shared_context else (len(names), n_ctx, width)
        self.ctx = nn.Parameter(torch.empty(shape, device=tokens.device).normal_(std=ctx_std))

    def _prompt_tokens(self, tokenizer, name: str,
                       context_length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token ids (L,) of one prompt and the mask (L,) of its context positions."""
        sot, eot = tokenizer.sot_token_id, tokenizer.eot_token_id
        placeholder = tokenizer.encode('X') * self.n_ctx
        name_ids, dot = tokenizer.encode(name), tokenizer.encode('.')
        if self.class_token_position == 'end':
            ids = [sot, *placeholder, *name_ids, *dot, eot]
            start = 1
        else:
            ids = [sot, *name_ids, *placeholder, *dot, eot]
            start = 1 + len(name_ids)
        if len(ids) > context_length:
            raise ValueError(f'the prompt of {name!r} has {len(ids)} tokens with {self.n_ctx} '
                             f'context vectors, more than the context length {context_length}')
        tokens = torch.zeros(context_length, dtype=torch.long)
        tokens[:len(ids)] = torch.tensor(ids)
        mask = torch.zeros(context_length, dtype=torch.bool)
        mask[start:start + self.n_ctx] = True
        return tokens, mask

    @classmethod
    def from_dataset(cls, clip_model: nn.Module, tokenizer, dataset: str, stage: str,
                     released: bool = True, **kwargs) -> 'PromptLearner':
        """FMA-WSSS's prompts of ``dataset`` ('voc12' | 'coco14') for ``stage`` ('cls' | 'seg'):
        the prompt names (the released lists with ``released``, else the clean ones), the
        background words or learnable empty background prompts, and the context layout and
        initialisation of :data:`FMA_PROMPT_SETTINGS`; ``kwargs`` (n_ctx, ctx_std, ...)
        override."""
        if (dataset, stage) not in FMA_PROMPT_SETTINGS:
            raise ValueError(f'no FMA prompt settings for dataset={dataset!r}, stage={stage!r}; '
                             f'known: {sorted(FMA_PROMPT_SETTINGS)}')
        settings = dict(FMA_PROMPT_SETTINGS[dataset, stage])
        empty = settings.pop('empty_background')
        names = DATASET_CLASSES[dataset]
        background: List[str] = [''] * empty if empty else list(names['background_words'])
        settings.update(kwargs)
        prompt_names = names['released_prompt_names' if released else 'prompt_names']
        return cls(clip_model, tokenizer, prompt_names, background, **settings)

    @property
    def clip_model(self) -> nn.Module:
        return self._clip[0]

    @property
    def num_classes(self) -> int:
        """Foreground prompts (the first rows of ``forward``)."""
        return len(self.class_names)

    @property
    def num_prompts(self) -> int:
        return len(self.tokens)

    def prompt_embeddings(self) -> torch.Tensor:
        """(N, L, width) token embeddings with the contexts in place."""
        ctx = self.ctx.expand(self.num_prompts, -1, -1) if self.shared_context else self.ctx
        # masked_scatter fills each prompt's context positions in order with its n_ctx rows
        return self.token_embeds.masked_scatter(self.ctx_mask[..., None],
                                                ctx.to(self.token_embeds.dtype))

    def forward(self) -> torch.Tensor:
        """(N, D) L2-normalised text features: the classes first, then the background."""
        features = encode_prompt_embeddings(self.clip_model, self.prompt_embeddings(), self.tokens)
        return F.normalize(features.float(), dim=-1)

