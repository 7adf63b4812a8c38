# The quickstart (make demo): FMA-WSSS's whole two-stage pipeline on the generated mini VOC tree
# (python -m wsss.datasets.synthetic data/mini_voc): SAM masks, classification prompts, coarse
# seeds, segmentation prompts, fine seeds, seed mIoU, DeepLabV3+ on the fine seeds, val mIoU and
# overlay pictures, all in work_dirs/quickstart/.
# With the pretrained CLIP ViT-B/16 and SAM ViT-B (found in $WSSS_WEIGHTS_DIR or torch hub's
# cache, else downloaded) the real models run, at short schedules. Without them the pipeline
# says so loudly and runs random_weights_fallback (tiny random models) instead: its numbers mean
# nothing.
work_dir = 'work_dirs/quickstart'
pretrained = dict(
    clip=dict(file='ViT-B-16.pt', url='https://openaipublic.azureedge.net/clip/models/'
              '5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt'),
    sam=dict(file='sam_vit_b_01ec64.pth',
             url='https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth'))
random_weights_fallback = 'configs/pipelines/fma-wsss_tiny_minivoc.py'

_data = dict(data_root='data/mini_voc', split='train')
_clip = dict(name='ViT-B-16', pretrained='{pretrained.clip}')
_iters = 60
_prompt_training = dict(
    model=dict(clip=_clip),
    train_dataloader=dict(batch_size=8, num_workers=0, persistent_workers=False),
    train_cfg=dict(max_iters=_iters),
    param_scheduler=[dict(type='CosineAnnealingLR', eta_min=0, begin=0, end=_iters,
                          by_epoch=False)],
    optim_wrapper=dict(optimizer=dict(lr=0.01)),
    # checkpoints (the prompts: kilobytes) every 20 iterations, so that an interrupted demo resumes
    default_hooks=dict(logger=dict(interval=10), checkpoint=dict(interval=20, max_keep_ckpts=2)))
_seeding = dict(model=dict(clip=_clip), test_dataloader=dict(num_workers=0, dataset=_data))
_stage_two = 'configs/quickstart/deeplabv3plus_r18-tiny_1xb8-300_minivoc-64x64.py'
steps = dict(
    sam_masks=dict(
        tool='sam_masks', config='configs/sam/sam_vit-h_fma_voc12-train.py',
        cfg_options=dict(  # SAM ViT-B, 8 points a side, no crops: ~30 s an image on 2 CPU cores
            model=dict(sam=dict(model_type='vit_b', checkpoint='{pretrained.sam}'),
                       generator=dict(points_per_side=8, crop_n_layers=0)),
            test_dataloader=dict(num_workers=0, dataset=_data))),
    cls_prompts=dict(
        tool='train', config='configs/fma_wsss/fma-cls_vit-b16_1xb16-1800_voc12-train-aug-224.py',
        cfg_options=dict(_prompt_training, train_dataloader=dict(
            _prompt_training['train_dataloader'], dataset=_data))),
    coarse_seeds=dict(
        tool='seeds', config='configs/fma_wsss/fma-coarse-seeds_vit-b16_voc12-train-aug.py',
        inputs={'load_from': 'cls_prompts', 'model.seeder.mask_dir': 'sam_masks'},
        cfg_options=_seeding),
    coarse_seed_eval=dict(tool='eval_seeds', seeds='coarse_seeds'),
    seg_prompts=dict(
        tool='train', config='configs/fma_wsss/fma-seg_vit-b16_1xb16-17000_voc12-train-aug-224.py',
        inputs={'train_dataloader.dataset.seed_dir': 'coarse_seeds'},
        cfg_options=dict(_prompt_training, train_dataloader=dict(
            _prompt_training['train_dataloader'], dataset=dict(dataset=_data)))),
    fine_seeds=dict(
        tool='seeds', config='configs/fma_wsss/fma-fine-seeds_vit-b16_voc12-train-aug.py',
        inputs={'load_from': 'seg_prompts', 'model.seeder.mask_dir': 'sam_masks'},
        cfg_options=_seeding, show_dir='vis'),
    fine_seed_eval=dict(tool='eval_seeds', seeds='fine_seeds'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'fine_seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'},
                        show_dir='vis'),
)
