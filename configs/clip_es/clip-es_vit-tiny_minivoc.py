# Instant test: CLIP-ES through every code path with a tiny randomly initialised CLIP on the mini
# VOC tree (python -m wsss.datasets.synthetic). Seconds on a CPU; its seeds mean nothing.
_base_ = ['../_base_/models/clip_es_vit-b16.py', '../_base_/seed_runtime.py',
          '../_base_/models/clip_tiny.py']
randomness = dict(seed=0)  # the random weights, hence the seeds, are the same on every run
model = dict(dataset='voc12', num_attn_layers=2, clip={{_base_.tiny_clip}})
test_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='VOC12Dataset', data_root='data/mini_voc', split='train'))
