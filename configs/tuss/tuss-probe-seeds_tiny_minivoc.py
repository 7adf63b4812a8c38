# Instant test of TUSS probe seeding on the mini VOC tree (probe1 / probe2; the pipeline wires
# load_from, embeddings_from and scores_from).
_base_ = ['./tuss-probe1-seeds_vit-b16_voc12-train-aug.py']
load_from = 'work_dirs/tuss-probe_1xb16-20_minivoc/iter_20.pth'
model = dict(embed_dim=32, mask_dir='work_dirs/sam_tiny_minivoc/sam_masks',
             embeddings_from='work_dirs/tuss-zero-shot_vit-tiny_minivoc/seeds',
             scores_from='work_dirs/tuss-lp_tiny_minivoc/seeds')
test_dataloader = dict(num_workers=0, dataset=dict(data_root='data/mini_voc', split='train'))
