"""Adapter over open_clip: frozen CLIP, dense image encoder, text encoder."""
from .dba import (
                  DBAFeatureExtractor,
                  mask_bias,
                  pool_mask_embeddings,
                  tuss_input_size,
                  window_boxes,
                  window_counts,
)
from .encoder import (
                  CLIPDenseEncoder,
                  DenseOutput,
                  build_clip,
                  dba_attention,
                  dba_block,
                  dba_dense_features,
                  interpolate_pos_embed,
)
from .text import (
                  CLIP_ES_TEMPLATE,
                  TextEncoder,
                  build_tokenizer,
                  encode_prompt_embeddings,
                  format_prompts,
)

__all__ = ['build_clip', 'CLIPDenseEncoder', 'DenseOutput', 'interpolate_pos_embed',
           'TextEncoder', 'build_tokenizer', 'format_prompts', 'encode_prompt_embeddings',
           'CLIP_ES_TEMPLATE', 'DBAFeatureExtractor', 'mask_bias', 'pool_mask_embeddings',
           'tuss_input_size', 'window_boxes', 'window_counts', 'dba_attention', 'dba_block',
           'dba_dense_features']
