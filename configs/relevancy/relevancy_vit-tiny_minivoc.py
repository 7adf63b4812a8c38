# Instant test: the relevancy seeder through every code path with a tiny random CLIP and a tiny
# random SAM on the mini VOC tree (python -m wsss.datasets.synthetic data/mini_voc). Seconds on a
# CPU; its seeds mean nothing.
_base_ = ['./relevancy_vit-b16_sam-vit-h_voc12-train.py', '../_base_/models/clip_tiny.py',
          '../_base_/models/sam_tiny.py']
randomness = dict(seed=0)  # the random weights, hence the seeds, are the same on every run
model = dict(clip={{_base_.tiny_clip}}, scales=(32, 64),
             seeder=dict(sam=dict(checkpoint=None, model_cfg={{_base_.tiny_sam}})))
test_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(data_root='data/mini_voc'))
