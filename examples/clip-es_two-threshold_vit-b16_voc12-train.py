# CLIP-ES CAM + CAA seeds on VOC 2012 train with the two-threshold seeder of
# examples/two_threshold_seeder.py (docs/adding_a_method.md). Run from the repository root:
#   PYTHONPATH=examples python tools/generate_seeds.py \
#       examples/clip-es_two-threshold_vit-b16_voc12-train.py --seed-dir work_dirs/two_threshold
_base_ = ['../configs/clip_es/clip-es_vit-b16_voc12-train.py']
custom_imports = dict(imports=['two_threshold_seeder'], allow_failed_imports=False)
# _delete_: the base's ArgmaxSeeder settings (bg_power) are not this seeder's
model = dict(seeder=dict(_delete_=True, type='TwoThresholdSeeder', low=0.3, high=0.6))
