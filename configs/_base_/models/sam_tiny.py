# A tiny randomly initialised SAM (wsss.models.sam.sam_from_cfg sizes) for instant-test configs:
# every code path of the real SAM in seconds on a CPU. Use it as
# sam=dict(checkpoint=None, model_cfg={{_base_.tiny_sam}}) with randomness=dict(seed=0).
tiny_sam = dict(
    img_size=64, encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2,
    encoder_global_attn_indexes=(1,), window_size=2, prompt_embed_dim=32,
    decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32)
