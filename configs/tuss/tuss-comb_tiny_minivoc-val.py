# Instant test of TUSS on new images (inductive LP + probe2, combined) on the mini VOC val split;
# the pipeline wires the probe, the masks and the two splits' stores. Negative similarities of
# the tiny random CLIP's embeddings are no edge, as in tuss-lp_tiny_minivoc.py.
_base_ = ['./tuss-comb_vit-b16_voc12-val.py']
load_from = 'work_dirs/tuss-probe_1xb16-20_minivoc/iter_20.pth'
val = 'work_dirs/tuss-zero-shot-ov_vit-tiny_minivoc-val/seeds'
model = dict(embed_dim=32, k_bar=5, k=5, drop_negative_edges=True,
             mask_dir='work_dirs/sam_tiny_minivoc-val/sam_masks',
             embeddings_from=val, scores_from=val,
             train_embeddings_from='work_dirs/tuss-zero-shot_vit-tiny_minivoc/seeds',
             train_scores_from='work_dirs/tuss-lp_tiny_minivoc/seeds')
test_dataloader = dict(num_workers=0, dataset=dict(data_root='data/mini_voc'))
