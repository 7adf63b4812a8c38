# TUSS label propagation (LP1, LP2; docs/tuss.md §5.3) as a seed step: it reads the mask store
# of earlier steps (their seed folders: `embeddings_from` = the zero-shot step, `scores_from` = the
# step whose scores are Y); tools/run_pipeline.py wires them.
model = dict(
    type='TUSSLabelPropagationModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    num_classes=21,
    k=50, gamma=1., alpha=0.9,  # γ = 1 and α = 0.9 as every official config (not 3 / 0.99)
    # kNN (KNNIndex): 'auto' = the exact tiled search on the GPU when there is one, else faiss's
    # exact flat index, else the tiled search on the CPU; 'ivf' / 'hnsw': approximate faiss CPU
    # indexes (recall and time: README, TUSS scale). The graph is computed once per split and
    # kept beside the zero-shot step's store (lp_graph/), for LP1, LP2 and the combination.
    knn=dict(method='auto'),
    # negative similarities are edges, as released (a negative degree is then an error naming
    # this switch); True: no edge (random embeddings have them, CLIP's do not)
    drop_negative_edges=False,
    # F columns of background + image labels, L1, min-max per image, background^α (O-T1: α = 1)
    seeding=dict(L1=True, norm=True, bypath_suppress=False, bg=dict(method='alpha_bg', alpha=1.)))
