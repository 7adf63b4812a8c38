# CLIP-ES CAM + CAA seeds (argmax against the background) of your own photos: the example of a
# folder dataset (configs/_base_/datasets/custom_folder.py). Make your own config from it:
#   _base_ = ['configs/custom/clip-es_vit-b16_custom.py']   (a path relative to your config)
#   classes = ('cat', 'dog')
#   model = dict(class_names=classes)
#   test_dataloader = dict(dataset=dict(data_root='data/pets', classes=classes))
#   python tools/generate_seeds.py my_config.py
_base_ = ['../_base_/models/clip_es_vit-b16.py', '../_base_/seed_runtime.py',
          '../_base_/datasets/custom_folder.py']
model = dict(
    class_names={{_base_.classes}},  # the prompt names: the class names, or synonyms 'a,b'
    # background_words: None (left out) takes a general list, CLIP-ES's 23 COCO words less the
    # class names (wsss.datasets.class_names.DEFAULT_BACKGROUND_WORDS); give your own to tune
    # released=False: the clean choices (README: Fidelity); there is no published figure to match
    released=False)
test_dataloader = dict(dataset={{_base_.folder_dataset}})
