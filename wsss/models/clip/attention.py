"""CLIP's image embedding with the attention probabilities of its last blocks in the autograd graph,
for gradient-weighted attention relevancy (Chefer et al.; ``wsss.models.relevancy``).

open_clip's blocks run ``nn.MultiheadAttention`` (or SDPA), which never exposes the attention
probabilities as tensors of the graph; the blocks whose relevancy is wanted are re-implemented
here (``softmax(q kᵀ / sqrt(d))``, ``A v``, out-projection, then the block's MLP) with open_clip's
own weights, so that ``torch.autograd.grad(target, attn)`` gives ∂target/∂A.
"""
from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

from .encoder import CLIPDenseEncoder, interpolate_pos_embed


@dataclass
class AttentionOutput:
    """What one forward of :class:`CLIPAttentionEncoder` returns (B images, N = 1 + h*w tokens)."""
    image_embedding: torch.Tensor  # (B, D): CLIP's image embedding (= encode_image), not normalised
    attn: List[torch.Tensor]  # per block from start_block on: (B, heads, N, N), post-softmax
    grid: Tuple[int, int]  # (h, w)


class CLIPAttentionEncoder(CLIPDenseEncoder):
    """CLIP image embeddings of an open_clip ViT at any multiple of the patch size, keeping the
    attention probabilities of the blocks ``start_block, ..., last`` in the graph.

    The blocks before ``start_block`` run without autograd (open_clip's own forward); the others
    are re-implemented (:func:`block_with_attn_probs`). The image embedding is open_clip's: the
    class token after ``ln_post``, times ``proj``. The positional embedding is resized to the
    input's patch grid bicubically (TUSS's ``resize_pos_embed2d``; the identity at the model's
    own size). The checks on the ViT are :class:`CLIPDenseEncoder`'s.

    Args:
        visual: ``clip_model.visual``.
        start_block: the first block whose attention is kept, Python-indexed: -1 (Chefer's
            default ``start_layer=-1``) the last block only, 0 all blocks.
    """

    def __init__(self, visual: nn.Module, start_block: int = -1) -> None:
        super().__init__(visual, num_attn_layers=0)
        num_blocks = len(visual.transformer.resblocks)
        if not -num_blocks <= start_block < num_blocks:
            raise ValueError(f'start_block={start_block}, but the ViT has {num_blocks} blocks')
        if visual.pool_type != 'tok':
            raise NotImplementedError(f'only class-token pooling is supported, not '
                                      f'{visual.pool_type!r}')
        self.start_block = start_block % num_blocks

    def pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        return interpolate_pos_embed(self.visual.positional_embedding, self.visual.grid_size,
                                     grid, mode='bicubic')

    def forward(self, images: torch.Tensor) -> AttentionOutput:
        """``images``: (B, 3, s, s') CLIP-normalised, sides multiples of the patch size."""
        visual = self.visual
        blocks = visual.transformer.resblocks
        with torch.no_grad():
            x, grid = self.embed(images)
            for block in blocks[:self.start_block]:
                x = block(x)
        # the frozen weights need no gradient: a leaf that does makes the attention differentiable
        x = x.detach().requires_grad_(torch.is_grad_enabled())
        attn = []
        for block in blocks[self.start_block:]:
            x, probs = block_with_attn_probs(block, x)
            attn.append(probs)
        embedding = visual.ln_post(x[:, 0])
        if visual.proj is not None:
            embedding = embedding @ visual.proj
        return AttentionOutput(image_embedding=embedding, attn=attn, grid=grid)


def block_with_attn_probs(block: ResidualAttentionBlock,
                          x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``ResidualAttentionBlock.forward`` (batch first, no mask) written out, returning also the
    attention probabilities (B, heads, N, N) as a tensor of the graph."""
    attn = block.attn
    if not attn._qkv_same_embed_dim:
        raise NotImplementedError('attention with separate q, k, v projections is not supported')
    y = block.ln_1(x)
    B, N, C = y.shape
    heads = attn.num_heads
    q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).view(
        B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)  # each (B, heads, N, head_dim)
    probs = (q * (C // heads) ** -0.5 @ k.transpose(-2, -1)).softmax(dim=-1)
    out = attn.out_proj((probs @ v).transpose(1, 2).reshape(B, N, C))
    x = x + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, probs
