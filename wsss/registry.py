"""Registries of wsss.

Each is a child of mmsegmentation's registry of the same kind, so that under
``default_scope='wsss'`` a config builds wsss, mmseg and mmengine components by type name alone.
``locations`` lets a registry import the modules that fill it on first use. SEEDERS (CAM -> seed
generators) is new.
"""
from mmengine.registry import Registry
from mmseg import registry as mmseg

RUNNERS = Registry('runner', parent=mmseg.RUNNERS, scope='wsss')
LOOPS = Registry('loop', parent=mmseg.LOOPS, scope='wsss')
HOOKS = Registry('hook', parent=mmseg.HOOKS, scope='wsss', locations=['wsss.engine'])
DATASETS = Registry('dataset', parent=mmseg.DATASETS, scope='wsss', locations=['wsss.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=mmseg.DATA_SAMPLERS, scope='wsss', locations=['wsss.datasets'])
TRANSFORMS = Registry(
    'transform', parent=mmseg.TRANSFORMS, scope='wsss', locations=['wsss.datasets.transforms'])
MODELS = Registry('model', parent=mmseg.MODELS, scope='wsss', locations=['wsss.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=mmseg.MODEL_WRAPPERS, scope='wsss')
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=mmseg.WEIGHT_INITIALIZERS, scope='wsss')
OPTIMIZERS = Registry('optimizer', parent=mmseg.OPTIMIZERS, scope='wsss')
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=mmseg.OPTIM_WRAPPERS, scope='wsss')
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=mmseg.OPTIM_WRAPPER_CONSTRUCTORS, scope='wsss')
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=mmseg.PARAM_SCHEDULERS, scope='wsss')
METRICS = Registry('metric', parent=mmseg.METRICS, scope='wsss', locations=['wsss.evaluation'])
EVALUATOR = Registry('evaluator', parent=mmseg.EVALUATOR, scope='wsss')
TASK_UTILS = Registry('task util', parent=mmseg.TASK_UTILS, scope='wsss')
VISUALIZERS = Registry('visualizer', parent=mmseg.VISUALIZERS, scope='wsss')
VISBACKENDS = Registry('vis_backend', parent=mmseg.VISBACKENDS, scope='wsss')
LOG_PROCESSORS = Registry('log_processor', parent=mmseg.LOG_PROCESSORS, scope='wsss')

SEEDERS = Registry('seeder', scope='wsss', locations=['wsss.models.seeders'])
