# A TUSS stage runs as a seed step (tools/generate_seeds.py): images at their original size
# (the model resizes), seeds and the per-mask store (<seeds>/../mask_store/<img_name>.npz).
_base_ = './seed_runtime.py'
# a bad image (or one whose SAM masks cannot be read) is listed in failed.json and skipped
tuss_pipeline = [dict(type='LoadImage', record_errors=True), dict(type='PackWSSSInputs')]
# an image is done when its seed and store shard exist; a killed run's temp files are removed
test_dataloader = dict(batch_size=1, sampler=dict(type='PendingMaskStoreSampler'),
                       dataset=dict(pipeline=tuss_pipeline))
test_evaluator = dict(type='MaskStoreWriter')
# GLCC steps read the masks and the store, not the image
glcc_pipeline = [dict(type='PackWSSSInputs')]
