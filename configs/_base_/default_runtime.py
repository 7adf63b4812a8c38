default_scope = 'wsss'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools switch to gloo when there is no CUDA; timeout (s) of a collective: training ranks
    # meet at every step, so a hang shows within 30 min (NCCL's own default is 10 min)
    dist_cfg=dict(backend='nccl', timeout=1800),
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
