"""The config handling every tool shares: ``--cfg-options``, ``--work-dir``, ``--launcher``."""
import argparse
import datetime
import gc
import importlib.util
import logging
import os
import os.path as osp
import sys
from typing import Callable, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.utils import import_modules_from_strings

from ..datasets.transforms import ImageLoadError
from ..io import DamagedFileError, DiskFullError
from ..io.atomic import DISK_FULL, disk_full_error
from ..io.progress import interrupted_message
from ..utils.checkpoint import CheckpointError
from ..utils.workers import loader_workers

# a user's mistake or the machine's fault, not a bug: a missing config, checkpoint, data folder
# or extra, a bad image, a damaged store file or checkpoint, a full disk
USER_ERRORS = (FileNotFoundError, ImageLoadError, ImportError, DamagedFileError, DiskFullError,
               CheckpointError)


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument('--work-dir', help='where outputs go; default work_dirs/<config name>')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override config settings, key=value (e.g. train_dataloader.batch_size=8)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (pytorch: torchrun)')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK itself.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--data-root', metavar='DIR',
                        help="the datasets' data_root (spaces in the path kept, unlike "
                             '--cfg-options)')
    parser.add_argument('--verbose', action='store_true',
                        help="mmengine's whole log on the console too (environment, config, "
                             'hooks, losses); by default it goes to the log file only')
    return parser


def innermost_dataset(dataset: dict) -> dict:
    """The dataset a wrapper (``PseudoLabelDataset``, ...) reads, or ``dataset`` itself."""
    while 'dataset' in dataset and 'data_root' not in dataset:
        dataset = dataset['dataset']
    return dataset


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point the dataset of every dataloader of ``cfg`` (wrapped ones followed) at
    ``data_root`` (``--data-root``)."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            innermost_dataset(loader['dataset'])['data_root'] = data_root


def add_dataset_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The dataset a tool reads: any config's test dataset, or VOC / COCO by name."""
    parser.add_argument('--config', help='read the test dataset of this config (any dataset '
                        'type, an image folder included)')
    parser.add_argument('--dataset', choices=['voc12', 'coco14'],
                        help='shortcut instead of --config: VOC 2012 or COCO 2014 '
                             '(with --data-root and --split)')
    parser.add_argument('--data-root', help="the dataset's data_root (default: the config's)")
    parser.add_argument('--split', help="the split (default: the config's)")
    return parser


def dataset_config_from_args(args: argparse.Namespace,
                             parser: argparse.ArgumentParser) -> dict:
    """The dataset config of :func:`add_dataset_args`' arguments; a missing one is a usage
    error."""
    if args.config:
        dataset = innermost_dataset(load_config(args.config).test_dataloader.dataset).to_dict()
        if args.data_root:
            dataset['data_root'] = args.data_root
        if args.split:
            dataset['split'] = args.split
        return dataset
    if not (args.dataset and args.data_root and args.split):
        parser.error('give --config CONFIG, or --dataset with --data-root and --split')
    from ..datasets import dataset_config
    return dataset_config(args.dataset, args.data_root, args.split)


def load_config(path: str, args: Optional[argparse.Namespace] = None) -> Config:
    """Read a config and apply the common arguments.

    The work dir is, in order: ``--work-dir``, the config's ``work_dir``, ``work_dirs/<config
    name>``. Without CUDA, distributed runs use gloo instead of the config's backend (NCCL). A
    dataloader's ``num_workers=None`` becomes :func:`~wsss.utils.workers.loader_workers` (a
    third of a rank's cores beside a GPU, none where the model runs on the CPU).
    ``--cfg-options custom_imports.imports=[module]`` imports the module, as ``custom_imports``
    in a config file does: a user's own registered hook or model without a config of their own.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config {path} not found')
    cfg = Config.fromfile(path)
    if args is None:
        args = argparse.Namespace(work_dir=None, cfg_options=None, launcher='none', local_rank=0,
                                  verbose=True)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
        if any(key.split('.')[0] == 'custom_imports' for key in args.cfg_options):
            import_modules_from_strings(**cfg.custom_imports)
    if getattr(args, 'data_root', None):
        set_data_root(cfg, args.data_root)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        init_cpu_distributed(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and 'num_workers' in loader and loader.num_workers is None:
            loader.num_workers = loader_workers()
    cfg.console_log_level = 'INFO' if getattr(args, 'verbose', True) else 'WARNING'
    use_tensorboard(cfg)
    return cfg


def use_tensorboard(cfg: Config) -> None:
    """Keep the visualizer's TensorboardVisBackend only when the config's ``tensorboard``
    switch is on and the tensorboard package is installed (else a one-line note)."""
    backends = cfg.get('visualizer', {}).get('vis_backends')
    if not backends or not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        return
    wanted = cfg.get('tensorboard', True)
    if wanted and importlib.util.find_spec('tensorboard') is None:
        print_log('TensorBoard logging is off: the tensorboard package is not installed '
                  '(pip install tensorboard; --cfg-options tensorboard=False says no to it)',
                  logger='current', level=logging.WARNING)
        wanted = False
    if not wanted:
        cfg.visualizer.vis_backends = [b for b in backends
                                       if b.get('type') != 'TensorboardVisBackend']


def build_runner(cfg: Config):
    """The config's Runner: its ``runner_type``, else :class:`wsss.engine.ConsoleRunner`
    (mmengine's Runner whose console shows ``console_log_level`` and up)."""
    from mmengine.registry import RUNNERS

    from ..engine import ConsoleRunner
    return RUNNERS.build(cfg) if 'runner_type' in cfg else ConsoleRunner.from_cfg(cfg)


def init_cpu_distributed(cfg: Config) -> None:
    """Start the process group with gloo when there is no CUDA.

    mmengine's launchers call ``torch.cuda.set_device``, which fails without CUDA; a process group
    that already exists makes the Runner skip them. Only torchrun (``--launcher pytorch``)
    describes the group in the environment, so only it is handled here. DDP gets no device ids,
    as it requires for CPU modules. ``dist_cfg.timeout`` (seconds) applies, as mmengine's
    launchers apply it.
    """
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} needs CUDA; on CPU use torchrun '
                           '(tools/dist_train.sh) with --launcher pytorch')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log('no CUDA: distributed backend gloo instead of nccl', logger='current',
                  level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if 'DistributedDataParallel' in wrapper['type']:
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if not torch.distributed.is_initialized():
        timeout = dist_cfg.get('timeout')
        torch.distributed.init_process_group(
            backend=dist_cfg['backend'],
            timeout=None if timeout is None else datetime.timedelta(seconds=timeout))


def amp_needs_cuda(cfg: Config) -> None:
    """A config that asks for AMP (AmpOptimWrapper) trains in fp32 where there is no CUDA."""
    if cfg.get('optim_wrapper', {}).get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        print_log('no CUDA: training in fp32 instead of AMP', logger='current',
                  level=logging.WARNING)
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.pop('dtype', None)


def enable_amp(cfg: Config) -> None:
    """Switch the config's OptimWrapper to mmengine's AmpOptimWrapper (dynamic loss scale)."""
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        print_log('AMP is already enabled in the config', logger='current', level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(f'--amp needs optim_wrapper.type=OptimWrapper, the config has {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def use_image_batches(cfg: Config, size: int) -> None:
    """Seed batches of up to ``size`` images of one size: the loader's batch size, the sampler
    ordered by image size and the model's ``images_per_forward`` (generate_seeds.py --batch)."""
    if size < 1:
        raise SystemExit(f'error: --batch must be >= 1, got {size}')
    cfg.test_dataloader.batch_size = size
    cfg.test_dataloader.sampler.group_by_size = True
    cfg.model.images_per_forward = size


def run_main(main: Callable[[], Optional[int]]) -> None:
    """Run a tool's ``main`` and exit with its code. A user's mistake or the machine's fault
    (:data:`USER_ERRORS`, a full disk anywhere) is one line on stderr, naming the thing and the
    setting, and exit code 1, not a traceback; Ctrl-C is one line saying how far the job came
    and how to resume it (exit code 130). A process group is closed before the interpreter
    exits (:func:`close_distributed`)."""
    try:
        code = main()
    except USER_ERRORS as e:
        print(f'error: {e}', file=sys.stderr)
        code = 1
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        print(f'error: {disk_full_error(e.filename or os.getcwd())}', file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print(f'\n{interrupted_message()}', file=sys.stderr)
        code = 130
    finally:
        close_distributed()
    sys.exit(code or 0)


def close_distributed() -> None:
    """Destroy the process group while the interpreter is still whole.

    Left to the interpreter's exit, gloo's worker threads outlive Python and now and then abort
    the process ("terminate called without an active exception"; about 1 run in 80 of a
    2-process job on a 2-core machine). ``destroy_process_group`` alone does not free the group
    while the runner's DDP model, held in reference cycles, still points at it: those go first.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        gc.collect()
        torch.distributed.destroy_process_group()


def check_inputs(cfg: Config, dataset_key: str = 'test_dataloader.dataset') -> None:
    """Fail before anything is built, in one line naming the setting, when the checkpoint
    (``load_from``) or the data folder of the dataset at ``dataset_key`` (its ``data_root``, or
    the ``img_dir`` of an image folder; wrapped datasets are followed) does not exist."""
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        raise FileNotFoundError(f'checkpoint {load_from} not found: set load_from (--checkpoint)')
    dataset = cfg
    for part in dataset_key.split('.'):
        dataset = dataset[part]
    while 'dataset' in dataset and 'data_root' not in dataset:
        dataset, dataset_key = dataset['dataset'], dataset_key + '.dataset'
    root = dataset.get('data_root')
    if root and not osp.isdir(root):
        raise FileNotFoundError(f'data folder {root} not found: set {dataset_key}.data_root '
                                '(--data-root PATH)')
    img_dir = dataset.get('img_dir')
    if img_dir and dataset.get('type') == 'ImageFolderDataset' and \
            not osp.isdir(osp.join(root or '', img_dir)):
        raise FileNotFoundError(f'image folder {osp.join(root or "", img_dir)} not found: set '
                                f'{dataset_key}.img_dir')
