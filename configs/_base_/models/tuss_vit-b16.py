# TUSS step 1 (Yang & Gong, arXiv 2405.14294; docs/tuss.md §2-4): DBA-CLIP ViT-B/16 mask
# embeddings (short side 448, 224/56 windows + a global pass, bias -4 between patches sharing no
# SAM mask) and zero-shot mask labels with the 14 ViLD templates.
model = dict(
    type='TUSSZeroShotModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    clip=dict(name='ViT-B-16', pretrained='openai'),
    dataset='voc12',     # vocabulary of §4.2 and DBA variant of §3.1 (coco14: norm_att, (1, 2))
    supervision='weak',  # weak | full | semi (with labelled=<list file>) | ov
    short_side=448,
    dba=dict(window=224, stride=56, global_weight=0.5, fg_bias=0., bg_bias=-4.,
             pos_embed_mode='bicubic', window_batch=8),
    # VOC's official zero-shot seeding; background (1 - max)^p, p = 0.3 by default (O-T1:
    # the official p was chosen on GT from {1, 2, 3, 5, 0.5, 0.3, 0.2}, winner not published)
    seeding=dict(softmax=1., norm=True, bypath_suppress=True, bg=dict(method='pow', p=0.3)))
