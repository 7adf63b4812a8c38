# Instant test of a whole FMA-WSSS pipeline: every step with tiny random models on the generated
# mini VOC tree (python -m wsss.datasets.synthetic data/mini_voc); minutes on a CPU, numbers
# meaningless.
work_dir = None  # work_dirs/fma-wsss_tiny_minivoc
steps = dict(
    sam_masks=dict(tool='sam_masks', config='configs/sam/sam_tiny_minivoc.py',
                   cfg_options=dict(test_dataloader=dict(dataset=dict(split='train')))),
    cls_prompts=dict(tool='train', config='configs/fma_wsss/fma-cls_vit-tiny_1xb4-20_minivoc.py'),
    coarse_seeds=dict(tool='seeds', config='configs/fma_wsss/fma-coarse-seeds_vit-tiny_minivoc.py',
                      inputs={'load_from': 'cls_prompts', 'model.seeder.mask_dir': 'sam_masks'}),
    coarse_seed_eval=dict(tool='eval_seeds', seeds='coarse_seeds'),
    seg_prompts=dict(tool='train', config='configs/fma_wsss/fma-seg_vit-tiny_1xb4-20_minivoc.py',
                     inputs={'train_dataloader.dataset.seed_dir': 'coarse_seeds'}),
    fine_seeds=dict(tool='seeds', config='configs/fma_wsss/fma-fine-seeds_vit-tiny_minivoc.py',
                    inputs={'load_from': 'seg_prompts', 'model.seeder.mask_dir': 'sam_masks'},
                    show_dir='vis'),
    fine_seed_eval=dict(tool='eval_seeds', seeds='fine_seeds'),
    stage_two=dict(tool='train',
                   config='configs/quickstart/deeplabv3plus_r18-tiny_1xb8-300_minivoc-64x64.py',
                   inputs={'train_dataloader.dataset.seed_dir': 'fine_seeds'}),
    stage_two_test=dict(tool='test',
                        config='configs/quickstart/deeplabv3plus_r18-tiny_1xb8-300_minivoc-64x64.py',
                        inputs={'load_from': 'stage_two'}, show_dir='vis'),
)
