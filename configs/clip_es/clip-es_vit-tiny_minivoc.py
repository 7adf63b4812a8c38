# Instant test: CLIP-ES through every code path with a tiny randomly initialised CLIP on the mini
# VOC tree (python -m wsss.datasets.synthetic). Seconds on a CPU; its seeds mean nothing.
_base_ = ['../_base_/models/clip_es_vit-b16.py', '../_base_/seed_runtime.py']
randomness = dict(seed=0)  # the random weights, hence the seeds, are the same on every run
model = dict(
    dataset='voc12',
    num_attn_layers=2,
    clip=dict(_delete_=True, name='tiny', pretrained=None, model_cfg=dict(
        embed_dim=32, quick_gelu=True,
        vision_cfg=dict(image_size=64, patch_size=16, width=64, layers=3, head_width=32),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))))
test_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='VOC12Dataset', data_root='data/mini_voc', split='train'))
