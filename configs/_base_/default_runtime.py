default_scope = 'wsss'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools switch to gloo when there is no CUDA
)
vis_backends = [dict(type='LocalVisBackend')]  # add dict(type='TensorboardVisBackend') for TensorBoard
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
custom_hooks = [dict(type='ClassCountCheckHook'), dict(type='ProgressBarHook')]
