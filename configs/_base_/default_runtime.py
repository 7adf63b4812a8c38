default_scope = 'wsss'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools switch to gloo when there is no CUDA
)
# Scalars (loss, lr, val mIoU) and validation images go to <work_dir>/<timestamp>/vis_data/:
# mmengine's JSON files (tools/analysis/plot_logs.py) and TensorBoard event files
# (tensorboard --logdir work_dirs). tensorboard=False (--cfg-options tensorboard=False) drops
# TensorBoard; the tools drop it with a note when the tensorboard package is not installed.
tensorboard = True
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
custom_hooks = [dict(type='ClassCountCheckHook'), dict(type='ProgressBarHook')]
