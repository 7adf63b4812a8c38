# TUSS with full supervision (fs, docs/tuss.md §6) on VOC 2012 train_aug: mask embeddings,
# and as each mask's scores its GT vote fractions (pixel-class fractions, ignore dropped); the
# seeds are the masks painted with their majority class. Then the probe trains on the fractions
# (tuss-probe-full_*) and new images are labelled by the probe + inductive LP from the GT
# (tuss-comb-full_*).
_base_ = ['./tuss-zero-shot_vit-b16_voc12-train-aug.py']
model = dict(supervision='full')
