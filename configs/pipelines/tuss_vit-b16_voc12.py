# TUSS on VOC 2012, end to end (docs/tuss.md §1): SAM ViT-H masks of train_aug, DBA-CLIP
# mask embeddings and zero-shot seeds S0, LP1, probe1 (60k), LP2, probe2 (60k; its seeds S4
# are the WSSS seeds, O-T2), each seed step evaluated on the training GT; then DeepLabV3+ R-101-D8
# on S4, evaluated on val; TUSS's own val labels (open-vocabulary store, inductive LP2 + probe2)
# are evaluated too. Published figures: none (the official code has no logs or tables).
#   python tools/run_pipeline.py configs/pipelines/tuss_vit-b16_voc12.py --gpus 8
_tuss = 'configs/tuss/tuss-{}_voc12-train-aug.py'
_stage_two = 'configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12-train-aug-seeds-512x512.py'
_store = {'model.mask_dir': 'sam_masks', 'model.embeddings_from': 'zero_shot'}
steps = dict(
    sam_masks=dict(tool='sam_masks', config='configs/sam/sam_vit-h_fma_voc12-train-aug.py'),
    zero_shot=dict(tool='seeds', config=_tuss.format('zero-shot_vit-b16'),
                   inputs={'model.mask_dir': 'sam_masks'}),
    zero_shot_eval=dict(tool='eval_seeds', seeds='zero_shot'),
    lp1=dict(tool='seeds', config=_tuss.format('lp1_vit-b16'),
             inputs=dict(_store, **{'model.scores_from': 'zero_shot'})),
    lp1_eval=dict(tool='eval_seeds', seeds='lp1'),
    probe1=dict(tool='train', config=_tuss.format('probe1_1xb512-60k'),
                inputs={'train_dataloader.dataset.embeddings_from': 'zero_shot',
                        'train_dataloader.dataset.scores_from': 'lp1'}),
    probe1_seeds=dict(tool='seeds', config=_tuss.format('probe1-seeds_vit-b16'),
                      inputs=dict(_store, **{'load_from': 'probe1', 'model.scores_from': 'lp1'})),
    probe1_eval=dict(tool='eval_seeds', seeds='probe1_seeds'),
    lp2=dict(tool='seeds', config=_tuss.format('lp2_vit-b16'),
             inputs=dict(_store, **{'model.scores_from': 'probe1_seeds'})),
    lp2_eval=dict(tool='eval_seeds', seeds='lp2'),
    probe2=dict(tool='train', config=_tuss.format('probe2_1xb512-60k'),
                inputs={'train_dataloader.dataset.embeddings_from': 'zero_shot',
                        'train_dataloader.dataset.scores_from': 'lp2'}),
    probe2_seeds=dict(tool='seeds', config=_tuss.format('probe2-seeds_vit-b16'),
                      inputs=dict(_store, **{'load_from': 'probe2', 'model.scores_from': 'lp2'})),
    final_seed_eval=dict(tool='eval_seeds', seeds='probe2_seeds'),
    # new images: val, open-vocabulary store, inductive LP2 + probe2 combined (§5.4-5.5)
    sam_masks_val=dict(tool='sam_masks', config='configs/sam/sam_vit-h_fma_voc12-train.py',
                       cfg_options=dict(test_dataloader=dict(dataset=dict(split='val')))),
    zero_shot_val=dict(tool='seeds', config='configs/tuss/tuss-zero-shot-ov_vit-b16_voc12-val.py',
                       inputs={'model.mask_dir': 'sam_masks_val'}),
    comb_val=dict(tool='seeds', config='configs/tuss/tuss-comb_vit-b16_voc12-val.py',
                  inputs={'load_from': 'probe2', 'model.mask_dir': 'sam_masks_val',
                          'model.embeddings_from': 'zero_shot_val',
                          'model.scores_from': 'zero_shot_val',
                          'model.train_embeddings_from': 'zero_shot',
                          'model.train_scores_from': 'lp2'}),
    comb_val_eval=dict(tool='eval_seeds', seeds='comb_val'),
    stage_two=dict(tool='train', config=_stage_two,
                   inputs={'train_dataloader.dataset.seed_dir': 'probe2_seeds'}),
    stage_two_test=dict(tool='test', config=_stage_two, inputs={'load_from': 'stage_two'}),
)
