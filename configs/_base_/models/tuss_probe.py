# TUSS GLCC cosine linear probe (§5.2): 100·cos(e, W_c), no bias. Trained by tools/train.py on
# MaskEmbeddingDataset; as a seed step (load_from = its weights) it classifies the split's masks.
model = dict(
    type='TUSSLinearProbe',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    num_classes=21, embed_dim=512, scale=100.,
    # val/iter-final: softmax over background + image labels, min-max, background^α (α = 1)
    seeding=dict(softmax=1., norm=True, bypath_suppress=False,
                 bg=dict(method='alpha_bg', alpha=1.)))
