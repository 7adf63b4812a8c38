# Instant test of FMA-WSSS step 2 (classification prompts) with a tiny random CLIP on the mini
# VOC tree: 20 iterations, no warm-up, seconds on a CPU.
_base_ = ['./fma-cls_vit-b16_1xb16-1800_voc12-train-aug-224.py', '../_base_/models/clip_tiny.py']
randomness = dict(seed=0)
model = dict(num_attn_layers=2, prompts=dict(n_ctx=4), clip={{_base_.tiny_clip}})
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='data/mini_voc', split='train'))
optim_wrapper = dict(optimizer=dict(lr=0.5))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0, begin=0, end=20, by_epoch=False)]
train_cfg = dict(max_iters=20)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=10))
