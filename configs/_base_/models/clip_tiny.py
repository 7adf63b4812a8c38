# A tiny randomly initialised CLIP (open_clip model config) for instant-test configs: every code
# path of the real ViT-B/16 in seconds on a CPU. Use it as clip={{_base_.tiny_clip}} (with
# randomness=dict(seed=0) so that its weights are the same on every run).
tiny_clip = dict(
    name='tiny', pretrained=None, model_cfg=dict(
        embed_dim=32, quick_gelu=True,
        vision_cfg=dict(image_size=64, patch_size=16, width=64, layers=3, head_width=32),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)))
