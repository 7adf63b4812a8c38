"""Frozen CLIP from open_clip, and a dense image encoder over its ViT.

The dense encoder runs open_clip's own modules step by step (patch embedding, class token,
positional embedding, ln_pre, residual blocks, ln_post, proj) instead of patching them, so it can:
take any input size that is a multiple of the patch size (interpolated positional embedding), keep
the patch tokens rather than the pooled CLS token, expose the last block's ``ln_1`` output with a
graph for GradCAM, and return the attention weights that CAA needs.
"""
import os.path as osp
from copy import deepcopy
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
from torch import nn

CHECKPOINT_FORMATS = ('auto', 'openai', 'open_clip')


def build_clip(name: str = 'ViT-B-16',
               pretrained: Optional[str] = 'openai',
               model_cfg: Optional[dict] = None,
               device: Union[str, torch.device] = 'cpu',
               checkpoint_format: str = 'auto',
               cache_dir: Optional[str] = None) -> nn.Module:
    """A frozen (no gradients, eval mode) open_clip CLIP model.

    Args:
        name: open_clip model name (``open_clip.list_models()``), e.g. ``'ViT-B-16'``.
        pretrained: an open_clip pretrained tag of ``name`` (``'openai'``, ``'laion2b_s34b_b88k'``,
            ...; fetched by open_clip into its cache), a local checkpoint file, or None for random
            weights (tests). ``'openai'`` loads OpenAI's released file (``ViT-B-16.pt``) from
            ``$WSSS_WEIGHTS_DIR`` or torch hub's cache, else downloads it there from OpenAI's URL
            (:func:`wsss.utils.find_weights`, checked against the sha256 in the URL); offline
            that fails at once, naming the folders, the URL and ``model.clip.pretrained``.
        model_cfg: an open_clip model config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``, ...,
            as in ``open_clip/model_configs/*.json``) used instead of the config of ``name``;
            tests build tiny random models this way.
        checkpoint_format: how a local file is read. ``'openai'``: open_clip's OpenAI loader
            (``load_openai_model``): OpenAI's released TorchScript archives (``ViT-B-16.pt``) and
            plain state dicts in the OpenAI key layout; the architecture is inferred from the
            weights and uses QuickGELU, as OpenAI's models were trained. ``'open_clip'``:
            an open_clip checkpoint loaded into the model of ``name`` / ``model_cfg``.
            ``'auto'``: ``'openai'`` when no ``model_cfg`` is given and OpenAI released weights
            for ``name`` (ViT-B-16, ViT-L-14, ...), else ``'open_clip'``; set ``'open_clip'`` for
            e.g. a LAION ViT-B-16 file.
        cache_dir: download cache for pretrained tags (open_clip's default when None).
    """
    # the weights finder needs mmengine, which the encoder itself does not (device_kit/)
    from ...utils.weights import WEIGHTS_DIR_ENV, find_weights, local_weights, openai_clip_url
    if checkpoint_format not in CHECKPOINT_FORMATS:
        raise ValueError(f'checkpoint_format must be one of {CHECKPOINT_FORMATS}, '
                         f'got {checkpoint_format!r}')
    openai_file = _openai_file_name(name) if model_cfg is None and pretrained == 'openai' else None
    local = local_weights(openai_file) if openai_file else None
    if openai_file and local is None:
        # OpenAI's file through find_weights, not open_clip's hub download: offline it fails at
        # once naming the folders and the URL, instead of minutes of hub retries
        local = find_weights(openai_clip_url(name), config_key='model.clip.pretrained')
    if local:  # OpenAI's released file, e.g. copied to an offline machine
        pretrained, checkpoint_format = local, 'openai'
    if pretrained is None:
        model = _create(name, model_cfg)
    elif model_cfg is None and pretrained in open_clip.list_pretrained_tags_by_model(name):
        # OpenAI weights need QuickGELU, which open_clip's plain 'ViT-B-16' config lacks.
        quick_gelu = open_clip.get_pretrained_cfg(name, pretrained).get('quick_gelu', False)
        try:
            model = open_clip.create_model(name, pretrained=pretrained, force_quick_gelu=quick_gelu,
                                           cache_dir=cache_dir)
        except RuntimeError as e:
            raise RuntimeError(
                f'could not fetch the {name} weights {pretrained!r} ({e}); without a network, '
                f'set `clip.pretrained` to a local checkpoint file'
                + (f' or put OpenAI\'s {openai_file} in ${WEIGHTS_DIR_ENV}' if openai_file else '')
            ) from e
    else:
        path = osp.expanduser(pretrained)
        if not osp.isfile(path):
            tags = open_clip.list_pretrained_tags_by_model(name)
            raise FileNotFoundError(
                f'CLIP checkpoint {path!r} not found: set `clip.pretrained` to an existing '
                f'checkpoint file or to an open_clip pretrained tag of {name} {tags}')
        if checkpoint_format == 'auto':
            openai_name = 'openai' in open_clip.list_pretrained_tags_by_model(name)
            checkpoint_format = 'openai' if model_cfg is None and openai_name else 'open_clip'
        if checkpoint_format == 'openai':
            model = open_clip.load_openai_model(path, precision='fp32', device='cpu')
        else:
            model = _create(name, model_cfg)
            open_clip.load_checkpoint(model, path)
    model = model.to(device).eval()
    model.requires_grad_(False)
    return model


def _openai_file_name(name: str) -> Optional[str]:
    """The file name of OpenAI's release of ``name`` (``ViT-B-16.pt``, ``ViT-L-14-336px.pt``)."""
    from ...utils.weights import openai_clip_url, url_file_name
    url = openai_clip_url(name)
    return url_file_name(url) if url else None


def _create(name: str, model_cfg: Optional[dict]) -> nn.Module:
    """A randomly initialised open_clip model from ``name``'s config or from ``model_cfg``."""
    if model_cfg is None:
        return open_clip.create_model(name, pretrained=None)
    cfg = deepcopy(model_cfg)
    model_class = open_clip.CustomTextCLIP if cfg.pop('custom_text', False) else open_clip.CLIP
    return model_class(**cfg)


def interpolate_pos_embed(pos_embed: torch.Tensor, src_grid: Tuple[int, int],
                          dst_grid: Tuple[int, int], fp16: bool = False,
                          mode: str = 'bilinear') -> torch.Tensor:
    """Resize a ViT positional embedding (1 + gh*gw, C) to a new patch grid.

    The patch part is reshaped to its grid and resized with ``mode`` (bilinear for CLIP-ES,
    bicubic for TUSS; align_corners=False); the class position is kept. ``fp16`` rounds the
    result to half precision and back, as the CLIP-ES reference code does (parity tests only).
    """
    if tuple(src_grid) != tuple(dst_grid):
        cls_pos, patch_pos = pos_embed[:1], pos_embed[1:]
        width = pos_embed.shape[1]
        patch_pos = patch_pos.reshape(1, *src_grid, width).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos.float(), size=tuple(dst_grid), mode=mode,
                                  align_corners=False).to(pos_embed.dtype)
        pos_embed = torch.cat([cls_pos, patch_pos.flatten(2)[0].t()], dim=0)
    if fp16:
        pos_embed = pos_embed.half().to(pos_embed.dtype)
    return pos_embed


@dataclass
class DenseOutput:
    """What one forward of :class:`CLIPDenseEncoder` returns (B images, h*w patches)."""
    patch_tokens: torch.Tensor  # (B, h*w, D): patch tokens after ln_post and proj
    image_feature: torch.Tensor  # (B, D): mean of patch_tokens
    ln1: torch.Tensor  # (B, h*w, width): last block's ln_1 output for the patches (GradCAM input)
    attn: List[torch.Tensor]  # last k blocks, each (B, 1+h*w, 1+h*w), averaged over heads
    grid: Tuple[int, int]  # (h, w)


class CLIPDenseEncoder(nn.Module):
    """Dense features of an open_clip ``VisionTransformer`` at any multiple of the patch size.

    All blocks but the last run without autograd (the model is frozen and CAMs need gradients
    only w.r.t. the last block's ``ln_1`` output). When gradients are enabled, ``ln1`` of the
    output is a leaf that requires grad and the image feature depends on it, so
    ``torch.autograd.grad(score, out.ln1)`` gives the GradCAM gradients.

    Args:
        visual: ``clip_model.visual``.
        num_attn_layers: how many of the last blocks return attention weights (CAA uses 8 of 12).
        fp16_pos_embed: round the interpolated positional embedding to fp16, as the CLIP-ES
            reference code does (parity tests only).
    """

    def __init__(self, visual: nn.Module, num_attn_layers: int = 8,
                 fp16_pos_embed: bool = False) -> None:
        super().__init__()
        if not isinstance(visual, VisionTransformer):
            raise TypeError(f'CLIPDenseEncoder needs an open_clip VisionTransformer, got '
                            f'{type(visual).__name__} (ResNet and timm towers are not supported)')
        if visual.attn_pool is not None:
            raise NotImplementedError('ViTs with an attentional pooler (CoCa) are not supported')
        if not visual.transformer.batch_first:
            raise NotImplementedError('only batch-first open_clip transformers are supported')
        blocks = visual.transformer.resblocks
        if not all(isinstance(b, ResidualAttentionBlock) for b in blocks):
            raise NotImplementedError(
                'only ResidualAttentionBlock (nn.MultiheadAttention) blocks are supported, not '
                'the custom attention blocks (qk_norm, scaled cosine attention, ...)')
        if not 0 <= num_attn_layers <= len(blocks):
            raise ValueError(f'num_attn_layers={num_attn_layers}, but the ViT has {len(blocks)} '
                             f'blocks')
        self.visual = visual
        self.num_attn_layers = num_attn_layers
        self.fp16_pos_embed = fp16_pos_embed

    @property
    def patch_size(self) -> Tuple[int, int]:
        return tuple(self.visual.patch_size)

    def pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """The positional embedding (1 + h*w, width) for a patch grid."""
        return interpolate_pos_embed(self.visual.positional_embedding, self.visual.grid_size,
                                     grid, fp16=self.fp16_pos_embed)

    def embed(self, images: torch.Tensor,
              pos_embed: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """The tokens entering the first block, (B, 1 + h*w, width), and the patch grid (h, w):
        patch embedding, class token, positional embedding (:meth:`pos_embed` of the grid unless
        given), ``ln_pre``. ``images``: (B, 3, H, W), CLIP-normalised, sides multiples of the
        patch size."""
        visual = self.visual
        (B, _, H, W), (ph, pw) = images.shape, self.patch_size
        if H % ph or W % pw:
            raise ValueError(f'input size {H}x{W} is not a multiple of the patch size {ph}x{pw}')
        grid = (H // ph, W // pw)
        pos = self.pos_embed(grid) if pos_embed is None else pos_embed
        x = visual.conv1(images.to(visual.conv1.weight.dtype)).flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).expand(B, 1, -1)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        return visual.ln_pre(visual.patch_dropout(x)), grid

    def forward(self, images: torch.Tensor) -> DenseOutput:
        """``images``: (B, 3, H, W), CLIP-normalised, H and W multiples of the patch size."""
        visual = self.visual
        blocks = visual.transformer.resblocks
        first_attn = len(blocks) - self.num_attn_layers
        attn = []
        with torch.no_grad():
            x, grid = self.embed(images)
            for i, block in enumerate(blocks[:-1]):
                if i >= first_attn:
                    x, weights = _block_with_attn(block, x)
                    attn.append(weights)
                else:
                    x = block(x)

        last = blocks[-1]
        with torch.no_grad():
            y = last.ln_1(x)
        ln1 = y[:, 1:].detach().requires_grad_(torch.is_grad_enabled())
        x, weights = _block_with_attn(last, x, torch.cat([y[:, :1], ln1], dim=1))
        if self.num_attn_layers:
            attn.append(weights.detach())
        tokens = visual.ln_post(x[:, 1:])
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        return DenseOutput(patch_tokens=tokens, image_feature=tokens.mean(dim=1), ln1=ln1,
                           attn=attn, grid=grid)


def _block_with_attn(block: ResidualAttentionBlock, x: torch.Tensor,
                     ln1: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``ResidualAttentionBlock.forward`` (batch first, no mask) that also returns the attention
    weights averaged over heads; ``ln1`` replaces ``block.ln_1(x)`` when given."""
    y = block.ln_1(x) if ln1 is None else ln1
    out, weights = block.attn(y, y, y, need_weights=True, average_attn_weights=True)
    x = x + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, weights


DBA_ATTENTIONS = ('qq+kk', 'qk')


def dba_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  bias: Optional[torch.Tensor] = None, norm_att: bool = False,
                  attention: str = 'qq+kk') -> Tuple[torch.Tensor, torch.Tensor]:
    """DBA attention of (B, heads, L, head_dim) queries, keys and values, scale head_dim^-½.

    ``A = softmax(s·q qᵀ + B) + softmax(s·k kᵀ + B)``, halved when ``norm_att``; the bias B
    ((B, L, L) or (L, L)) is the same for every head and added before each softmax.
    ``attention='qk'``: the original ``softmax(s·q kᵀ + B)``. Returns ``(A v, A)``.
    """
    if attention not in DBA_ATTENTIONS:
        raise ValueError(f'attention must be one of {DBA_ATTENTIONS}, got {attention!r}')
    L = q.shape[-2]
    scale = q.shape[-1] ** -0.5
    bias = 0. if bias is None else bias.reshape(-1, 1, L, L).to(q.dtype)
    if attention == 'qk':
        weights = torch.softmax(scale * q @ k.transpose(-2, -1) + bias, dim=-1)
    else:
        weights = (torch.softmax(scale * q @ q.transpose(-2, -1) + bias, dim=-1)
                   + torch.softmax(scale * k @ k.transpose(-2, -1) + bias, dim=-1))
        if norm_att:
            weights = weights / 2
    return weights @ v, weights


def dba_block(block: ResidualAttentionBlock, x: torch.Tensor, bias: Optional[torch.Tensor],
              norm_att: bool = False, residual_weights: Tuple[float, float] = (1., 1.),
              attention: str = 'qq+kk') -> torch.Tensor:
    """The last block of DBA-CLIP (TUSS, ``SCLIPLayers``; docs/tuss.md §3.1 step 5), with
    both softmaxes written out so that the mask bias and the logits are visible.

    Per head: ``A = softmax(s·q qᵀ + B) + softmax(s·k kᵀ + B)`` (halved when ``norm_att``),
    ``o = concat_heads(A v) W_outᵀ + b_out``; then ``x = w0·x + w1·o`` and the block's FFN with its
    residual. ``attention='qk'`` is the block's original ``softmax(s·q kᵀ + B)`` (with B = 0 and
    weights (1, 1) this is open_clip's block), kept to check the rest of the computation.

    Args:
        block: an open_clip ``ResidualAttentionBlock`` (batch first, nn.MultiheadAttention).
        x: (B, L, width) tokens entering the block.
        bias: (B, L, L) or (L, L) additive attention bias shared by all heads, or None.
        norm_att: average the two attention maps (COCO) instead of adding them (VOC).
        residual_weights: (w0, w1): (1, 1) for VOC, (1, 2) for COCO.
    """
    attn = block.attn
    B, L, width = x.shape
    heads = attn.num_heads
    y = block.ln_1(x)
    q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(B, L, heads, width // heads).transpose(1, 2) for t in (q, k, v))
    out, _ = dba_attention(q, k, v, bias, norm_att, attention)
    out = out.transpose(1, 2).reshape(B, L, width)
    out = attn.out_proj(out)
    w0, w1 = residual_weights
    x = w0 * x + w1 * block.ls_1(out)
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def dba_dense_features(encoder: CLIPDenseEncoder, images: torch.Tensor,
                       bias: Optional[torch.Tensor], norm_att: bool = False,
                       residual_weights: Tuple[float, float] = (1., 1.),
                       pos_embed_mode: str = 'bicubic',
                       attention: str = 'qq+kk') -> torch.Tensor:
    """DBA-CLIP dense features (TUSS ``encode``, §3.1): blocks 0..L-2 of ``encoder``'s ViT
    unchanged, the last one replaced by :func:`dba_block`, then ``ln_post`` on all tokens and
    ``proj`` on the patches. Nothing is normalised; the CLS token is dropped.

    Args:
        encoder: a :class:`CLIPDenseEncoder` (its ViT's modules are used as they are).
        images: (B, 3, H, W) CLIP-normalised, sides multiples of the patch size.
        bias: (B, L, L) mask attention bias (L = 1 + h·w, :func:`wsss.models.clip.dba.mask_bias`)
            or None for no bias.
        pos_embed_mode: how the positional embedding is resized (TUSS: bicubic).

    Returns:
        (B, D, h, w) features on the patch grid.
    """
    visual = encoder.visual
    (ph, pw), B = encoder.patch_size, len(images)
    grid = (images.shape[-2] // ph, images.shape[-1] // pw)
    x, grid = encoder.embed(images, interpolate_pos_embed(
        visual.positional_embedding, visual.grid_size, grid, mode=pos_embed_mode))
    blocks = visual.transformer.resblocks
    for block in blocks[:-1]:
        x = block(x)
    x = dba_block(blocks[-1], x, bias, norm_att, residual_weights, attention)
    tokens = visual.ln_post(x)[:, 1:]
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    return tokens.transpose(1, 2).reshape(B, -1, *grid)
