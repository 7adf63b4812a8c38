# Your own photos (README: Your own data): a folder of images and a CSV labels file, one image a
# line ("street_001.jpg, person, car"), under data_root:
#   images/...      the photos (any size, any EXIF orientation; sub-folders allowed)
#   labels.csv      image-level labels, UTF-8
#   masks/          optional GT masks <name>.png (values 0..C, 255 ignored), for tools/eval_seeds.py
# Set data_root and classes in your own config (see configs/custom/) or on the command line:
# --data-root DIR, --cfg-options "test_dataloader.dataset.classes=[cat,dog]".
data_root = 'data/custom'
classes = ('cat', 'dog', 'person')  # the foreground classes, ids 1..C in this order
folder_dataset = dict(type='ImageFolderDataset', data_root=data_root, img_dir='images',
                      labels_file='labels.csv', classes=classes, seg_map_dir='masks')
