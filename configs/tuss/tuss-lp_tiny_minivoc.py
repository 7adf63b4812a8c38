# Instant test of TUSS label propagation (LP1 / LP2) on the mini VOC tree: k = 5 neighbours for
# its few hundred masks; the pipeline wires embeddings_from and scores_from. The tiny random CLIP's
# embeddings have negative similarities among neighbours: they are no edge.
_base_ = ['./tuss-lp1_vit-b16_voc12-train-aug.py']
zero_shot = 'work_dirs/tuss-zero-shot_vit-tiny_minivoc/seeds'
model = dict(k=5, drop_negative_edges=True, mask_dir='work_dirs/sam_tiny_minivoc/sam_masks',
             embeddings_from=zero_shot, scores_from=zero_shot)
test_dataloader = dict(num_workers=0, dataset=dict(data_root='data/mini_voc', split='train'))
