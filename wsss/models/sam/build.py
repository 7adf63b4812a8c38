"""Building SAM: a released model type with its checkpoint (a local file, or the released file found
or downloaded by :func:`wsss.utils.find_weights`), or a small random one (tests)."""
import os.path as osp
import pickle
from functools import partial
from typing import Optional, Sequence

import torch
from segment_anything import sam_model_registry
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

SAM_TYPES = ('vit_h', 'vit_l', 'vit_b')
SAM_URLS = {
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
}


def build_sam(model_type: str = 'vit_h', checkpoint: Optional[str] = None,
              model_cfg: Optional[dict] = None) -> Sam:
    """A frozen SAM (eval mode, no gradients).

    Args:
        model_type: 'vit_h', 'vit_l' or 'vit_b', built by segment-anything's ``sam_model_registry``.
        checkpoint: the weights of ``model_type``: a file, else its name is looked for in
            ``$WSSS_WEIGHTS_DIR`` and the download cache, and the released file name
            (``sam_vit_h_4b8939.pth``, ...) is downloaded there when missing
            (:func:`wsss.utils.find_weights`); None leaves the weights random (timing, tests).
        model_cfg: the sizes of a SAM built instead of ``model_type`` (see :func:`sam_from_cfg`);
            tests and instant configs build tiny random SAMs this way.
    """
    if model_cfg is None and model_type not in SAM_TYPES:
        raise ValueError(f'unknown SAM model_type {model_type!r}; one of {SAM_TYPES}')
    if checkpoint is not None:
        checkpoint = _find_checkpoint(model_type, checkpoint, model_cfg is None)
    sam = sam_from_cfg(**model_cfg) if model_cfg is not None else sam_model_registry[model_type]()
    if checkpoint is not None:
        model = f'a SAM {model_type}' if model_cfg is None else 'its model_cfg'
        _load_weights(sam, checkpoint, model)
    return sam.eval().requires_grad_(False)


def _find_checkpoint(model_type: str, checkpoint: str, released: bool) -> str:
    """The local file of ``checkpoint``; only the released file name of a released model type is
    downloaded, since any other name may hold other weights."""
    from ...utils.weights import find_weights, url_file_name  # mmengine: not needed to build
    url = SAM_URLS[model_type] if released else None
    download = url is not None and osp.basename(checkpoint) == url_file_name(url)
    try:
        return find_weights(checkpoint, url=url if download else None,
                            config_key='model.sam.checkpoint')
    except FileNotFoundError as e:
        if url is None or download:
            raise
        raise FileNotFoundError(f'{e}; the released {model_type} weights are {url}') from None


def _load_weights(sam: Sam, checkpoint: str, model: str) -> None:
    try:
        state_dict = torch.load(checkpoint, map_location='cpu', weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as e:
        raise RuntimeError(f'cannot read SAM checkpoint {checkpoint}: {e}') from e
    try:
        sam.load_state_dict(state_dict)
    except RuntimeError as e:
        raise RuntimeError(f'SAM checkpoint {checkpoint} does not fit {model}: '
                           f'{str(e)[:500]}') from e


def sam_from_cfg(img_size: int = 1024, patch_size: int = 16, encoder_embed_dim: int = 768,
                 encoder_depth: int = 12, encoder_num_heads: int = 12,
                 encoder_global_attn_indexes: Sequence[int] = (2, 5, 8, 11),
                 window_size: int = 14, prompt_embed_dim: int = 256, decoder_depth: int = 2,
                 decoder_mlp_dim: int = 2048, decoder_num_heads: int = 8,
                 iou_head_hidden_dim: int = 256) -> Sam:
    """A randomly initialised SAM of any size, assembled from segment-anything's modules as its
    ``build_sam`` does (the defaults are SAM ViT-B's); ``img_size`` may be small, e.g. 64."""
    embedding_size = img_size // patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=encoder_depth, embed_dim=encoder_embed_dim, img_size=img_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=encoder_num_heads,
            patch_size=patch_size, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=tuple(encoder_global_attn_indexes), window_size=window_size,
            out_chans=prompt_embed_dim),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_embed_dim, image_embedding_size=(embedding_size, embedding_size),
            input_image_size=(img_size, img_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=decoder_depth, embedding_dim=prompt_embed_dim,
                                          mlp_dim=decoder_mlp_dim, num_heads=decoder_num_heads),
            transformer_dim=prompt_embed_dim, iou_head_depth=3,
            iou_head_hidden_dim=iou_head_hidden_dim),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])
