# Instant test of the whole TUSS chain (docs/tuss.md §1) with tiny random models on the
# generated mini VOC tree (python -m wsss.datasets.synthetic data/mini_voc): SAM masks, mask
# embeddings + zero-shot seeds S0, LP1, probe1, LP2, probe2 (final seeds S4), each seed step
# evaluated; then new images (val): open-vocabulary embeddings and the combination of inductive
# LP and probe2. Minutes on a CPU; numbers meaningless.
work_dir = None  # work_dirs/tuss_tiny_minivoc
steps = dict(
    sam_masks=dict(tool='sam_masks', config='configs/sam/sam_tiny_minivoc.py',
                   cfg_options=dict(test_dataloader=dict(dataset=dict(split='train')))),
    zero_shot=dict(tool='seeds', config='configs/tuss/tuss-zero-shot_vit-tiny_minivoc.py',
                   inputs={'model.mask_dir': 'sam_masks'}),
    zero_shot_eval=dict(tool='eval_seeds', seeds='zero_shot'),
    lp1=dict(tool='seeds', config='configs/tuss/tuss-lp_tiny_minivoc.py',
             inputs={'model.mask_dir': 'sam_masks', 'model.embeddings_from': 'zero_shot',
                     'model.scores_from': 'zero_shot'}),
    lp1_eval=dict(tool='eval_seeds', seeds='lp1'),
    probe1=dict(tool='train', config='configs/tuss/tuss-probe_1xb16-20_minivoc.py',
                inputs={'train_dataloader.dataset.embeddings_from': 'zero_shot',
                        'train_dataloader.dataset.scores_from': 'lp1'}),
    probe1_seeds=dict(tool='seeds', config='configs/tuss/tuss-probe-seeds_tiny_minivoc.py',
                      inputs={'load_from': 'probe1', 'model.mask_dir': 'sam_masks',
                              'model.embeddings_from': 'zero_shot', 'model.scores_from': 'lp1'}),
    probe1_eval=dict(tool='eval_seeds', seeds='probe1_seeds'),
    lp2=dict(tool='seeds', config='configs/tuss/tuss-lp_tiny_minivoc.py',
             inputs={'model.mask_dir': 'sam_masks', 'model.embeddings_from': 'zero_shot',
                     'model.scores_from': 'probe1_seeds'}),
    lp2_eval=dict(tool='eval_seeds', seeds='lp2'),
    probe2=dict(tool='train', config='configs/tuss/tuss-probe_1xb16-20_minivoc.py',
                inputs={'train_dataloader.dataset.embeddings_from': 'zero_shot',
                        'train_dataloader.dataset.scores_from': 'lp2'}),
    probe2_seeds=dict(tool='seeds', config='configs/tuss/tuss-probe-seeds_tiny_minivoc.py',
                      inputs={'load_from': 'probe2', 'model.mask_dir': 'sam_masks',
                              'model.embeddings_from': 'zero_shot', 'model.scores_from': 'lp2'},
                      show_dir='vis'),
    final_seed_eval=dict(tool='eval_seeds', seeds='probe2_seeds'),
    sam_masks_val=dict(tool='sam_masks', config='configs/sam/sam_tiny_minivoc.py',
                       cfg_options=dict(test_dataloader=dict(dataset=dict(split='val')))),
    zero_shot_val=dict(
        tool='seeds', config='configs/tuss/tuss-zero-shot-ov_vit-tiny_minivoc-val.py',
        inputs={'model.mask_dir': 'sam_masks_val'}),
    comb_val=dict(tool='seeds', config='configs/tuss/tuss-comb_tiny_minivoc-val.py',
                  inputs={'load_from': 'probe2', 'model.mask_dir': 'sam_masks_val',
                          'model.embeddings_from': 'zero_shot_val',
                          'model.scores_from': 'zero_shot_val',
                          'model.train_embeddings_from': 'zero_shot',
                          'model.train_scores_from': 'lp2'}),
    comb_val_eval=dict(tool='eval_seeds', seeds='comb_val'),
)
