"""Every step of a method, in order, under one work dir: ``tools/run_pipeline.py``.

A pipeline config (``configs/pipelines/``) names its steps in order::

    steps = dict(
        sam_masks=dict(tool='sam_masks', config='configs/sam/....py'),
        cls_prompts=dict(tool='train', config='configs/fma_wsss/fma-cls_....py'),
        coarse_seeds=dict(tool='seeds', config='...',
                          inputs={'load_from': 'cls_prompts',
                                  'model.seeder.mask_dir': 'sam_masks'}),
        seed_eval=dict(tool='eval_seeds', seeds='coarse_seeds'),
        stage_two=dict(tool='train', config='...',
                       inputs={'train_dataloader.dataset.seed_dir': 'coarse_seeds'},
                       cfg_options=dict(train_cfg=dict(max_iters=20000))),
        stage_two_test=dict(tool='test', config='...', inputs={'load_from': 'stage_two'}),
        stage_two_test_ms=dict(tool='test', config='...', inputs={'load_from': 'stage_two'},
                               tta=True),
    )

``inputs`` wires a config key to the output of an earlier step (a mask folder, a checkpoint, a
seed folder). A seeds step with ``save_cams=True`` also keeps its CAMs (``<step>/cams``); an
eval_seeds step with ``powers=[...]`` then searches the background power on them against the GT
(SAMS seeds over the masks of the step named by ``sam_masks``, else argmax seeds) and reports the
best power's mIoU. Each step runs its tool in a subprocess (torchrun with ``gpus > 1``) on the
config it was given, with ``cfg_options`` and ``inputs`` merged in and written to
``<work_dir>/configs/<step>.py``; its outputs go to ``<work_dir>/<step>/``. A test step may ask
for ``tools/test.py``'s testing modes: ``tta=True`` (multi-scale + flip), ``crf=True`` (dense
CRF on the predictions), each a separate step with its own mIoU. A step that finished
leaves ``done.json`` there (the artefact it produced, its options, inputs, time, numbers) and is
skipped on the next run, later steps taking the recorded artefact; a step that was killed
resumes: training from its last checkpoint, seeds and SAM masks from the first unfinished image.
A step whose options or inputs changed since it ran is refused, naming the change, unless it
is named in ``--redo`` (then it and the steps using it run again in fresh folders).

A pipeline may name the weights it needs (``pretrained = dict(clip=dict(file=..., url=...))``),
which its steps refer to as ``'{pretrained.clip}'``; when one of them can be neither found nor
downloaded, ``random_weights_fallback`` (a pipeline of tiny random models) runs instead, under
``<work_dir>/random_weights``, with a loud warning.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..evaluation import (
    best_power,
    dataset_image_paths,
    evaluate_dataset_seeds,
    format_table,
    search_bg_power,
    write_metrics,
)
from ..io import atomic_write
from ..registry import DATASETS
from ..utils.weights import find_weights

TOOLS = ('sam_masks', 'train', 'seeds', 'eval_seeds', 'test')
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL_SCRIPTS = dict(sam_masks='sam_masks.py', train='train.py', seeds='generate_seeds.py',
                    test='test.py')
DONE = 'done.json'
STARTED = 'step.json'
TEST_MODES = ('tta', 'crf')  # options of test steps, passed to tools/test.py as --tta, --crf


class PipelineError(RuntimeError):
    """A step failed or the pipeline config is wrong; the message says which."""


def find_config(path: str) -> str:
    """A step's config: as given, else relative to the repository (configs/... from anywhere)."""
    for candidate in (path, osp.join(REPO_ROOT, path)):
        if osp.isfile(candidate):
            return candidate
    raise PipelineError(f'config {path} not found')


RANDOM_WEIGHTS_WARNING = """
************************************************************************************************
  RANDOM WEIGHTS: {reason}
  This run uses tiny randomly initialised models instead ({fallback}).
  It shows that every step works; its seeds, pictures and mIoU numbers MEAN NOTHING.
  For real numbers put the weights in $WSSS_WEIGHTS_DIR (or torch hub's cache) and run again.
************************************************************************************************"""


def resolve_weights(cfg: Config, log=print) -> Tuple[Config, bool]:
    """The pipeline with the local files of ``cfg.pretrained`` put into its steps
    (``'{pretrained.<key>}'``), or its random-weights fallback, whose work dir is
    ``<work_dir>/random_weights``; and whether the weights are random."""
    paths = {}
    for key, weights in cfg.get('pretrained', {}).items():
        try:
            paths[f'{{pretrained.{key}}}'] = find_weights(
                weights['file'], weights.get('url'), config_key=f'pretrained.{key}.file')
        except FileNotFoundError as e:
            fallback = cfg.get('random_weights_fallback')
            if fallback is None:
                raise PipelineError(str(e)) from e
            log(RANDOM_WEIGHTS_WARNING.format(reason=e, fallback=fallback))
            random_cfg = Config.fromfile(find_config(fallback))
            random_cfg.work_dir = osp.join(cfg.work_dir, 'random_weights')
            return random_cfg, True

    def substitute(node):
        if isinstance(node, dict):
            return {k: substitute(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(substitute(v) for v in node)
        return paths.get(node, node) if isinstance(node, str) else node

    cfg.steps = substitute(cfg.steps.to_dict())
    return cfg, False


def check_steps(steps: Dict[str, dict]) -> None:
    """Fail before running anything on an unknown tool or an input from a later step."""
    seen: List[str] = []
    for name, step in steps.items():
        if step.get('tool') not in TOOLS:
            raise PipelineError(f'step {name}: tool must be one of {TOOLS}, got '
                                f'{step.get("tool")!r}')
        sources = list(step.get('inputs', {}).values())
        if step['tool'] == 'eval_seeds':
            sources += [step.get('seeds')] + ([step['sam_masks']] if 'sam_masks' in step else [])
            if 'powers' in step and not steps.get(step.get('seeds'), {}).get('save_cams'):
                raise PipelineError(f'step {name} searches powers on the CAMs of '
                                    f'{step.get("seeds")!r}: give that step save_cams=True')
        elif 'config' not in step:
            raise PipelineError(f'step {name} ({step["tool"]}) needs a config')
        modes = [m for m in TEST_MODES if step.get(m)]
        if modes and step['tool'] != 'test':
            raise PipelineError(f'step {name}: {modes} are options of test steps, not of '
                                f'{step["tool"]}')
        for source in sources:
            if source not in seen:
                raise PipelineError(f'step {name} takes the output of {source!r}, which is not '
                                    f'an earlier step (earlier: {seen})')
        seen.append(name)


def step_config(step: dict, outputs: Dict[str, str], work_dir: str) -> Config:
    """The step's config with its cfg_options and its inputs merged in."""
    cfg = Config.fromfile(find_config(step['config']))
    cfg.merge_from_dict(dict(step.get('cfg_options', {})))
    cfg.merge_from_dict({key: outputs[source] for key, source in step.get('inputs', {}).items()})
    cfg.work_dir = work_dir
    return cfg


def step_output(tool: str, step_dir: str, cfg: Optional[Config]) -> str:
    """Where a step's result goes: what later steps take as their input."""
    if tool == 'sam_masks':
        return osp.join(step_dir, 'masks')
    if tool == 'seeds':
        return osp.join(step_dir, 'seeds')
    if tool == 'train':
        loop = cfg.train_cfg
        last = (f'epoch_{loop.max_epochs}' if 'max_epochs' in loop else f'iter_{loop.max_iters}')
        return osp.join(step_dir, last + '.pth')
    return osp.join(step_dir, 'metrics.json')


def tool_command(tool: str, config: str, step_dir: str, output: str, gpus: int,
                 show_dir: Optional[str], checkpoint: Optional[str] = None,
                 *, save_cams: bool = False, test_modes: Sequence[str] = (),
                 verbose: bool = False) -> List[str]:
    script = osp.join(REPO_ROOT, 'tools', TOOL_SCRIPTS[tool])
    if tool == 'sam_masks':
        args = [config, '--mask-dir', output]
    elif tool == 'seeds':
        args = [config, '--seed-dir', output, '--no-eval']  # the eval_seeds step evaluates
        if save_cams:
            args += ['--save-cams', osp.join(step_dir, 'cams')]
    elif tool == 'train':
        args = [config]
        if osp.isfile(osp.join(step_dir, 'last_checkpoint')):
            args.append('--resume')
    else:
        # metrics.json and per_image.csv in the step's folder; the predictions for the report
        args = [config, checkpoint, '--metrics-dir', osp.dirname(output),
                '--out', osp.join(step_dir, 'pred'), *(f'--{m}' for m in test_modes)]
    if show_dir and tool in ('seeds', 'test'):  # test.py puts it under its work dir itself
        args += ['--show-dir', osp.join(step_dir, show_dir) if tool == 'seeds' else show_dir]
    args += ['--work-dir', step_dir] + (['--verbose'] if verbose else [])
    if gpus > 1:
        # --standalone: a local rendezvous on a free port, so pipelines can run side by side
        return [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                f'--nproc_per_node={gpus}', script, *args, '--launcher', 'pytorch']
    return [sys.executable, script, *args]


def evaluate_seeds(seed_cfg: Config, seed_dir: str, output: str, nproc: int,
                   powers: Optional[List[float]] = None, mask_dir: Optional[str] = None,
                   verbose: bool = False) -> dict:
    """mIoU of a seed folder against the GT of the split its seeds step ran on; with ``powers``,
    the background-power search on the CAMs beside it (``cams``), the best power's numbers.
    The metric files go beside ``output`` (its metrics.json); the per-class table is printed
    when ``verbose``."""
    dataset = DATASETS.build(dict(seed_cfg.test_dataloader.dataset, pipeline=[]))
    classes = dataset.metainfo['classes']
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    extra = dict(predictions=seed_dir)
    try:
        if powers:
            cam_dir = osp.join(osp.dirname(seed_dir), 'cams')
            results = search_bg_power([(i['img_name'], i['seg_map_path']) for i in infos],
                                      cam_dir, len(classes), powers, nproc, mask_dir)
            best = best_power(results)
            stats = results[best]
            print('ground-truth search of the background power: ' + ', '.join(
                f'{p:g}: {100 * r.miou:.2f}' for p, r in results.items()) + f'; best {best:g}')
            extra = dict(best_power=best, predictions=None, miou_by_power={
                f'{p:g}': 100 * r.miou for p, r in results.items()})
        else:
            stats = evaluate_dataset_seeds(dataset, seed_dir, nproc)
    except (ValueError, FileNotFoundError) as e:
        raise PipelineError(f'cannot evaluate {seed_dir}: {e}') from e
    if verbose:
        print(f'seeds in {seed_dir} ({len(dataset)} images):\n{format_table(stats, classes)}')
    return write_metrics(osp.dirname(output), stats, classes, 'seeds',
                         image_paths=dataset_image_paths(infos), **extra)


STEP_SETTINGS = ('tool', 'config', 'cfg_options', 'inputs', 'seeds', 'sam_masks', 'powers',
                 'save_cams', 'show_dir', *TEST_MODES)


def flatten(node, prefix: str = '') -> Dict[str, object]:
    """Dotted keys of nested dicts to their values (lists and tuples as JSON lists)."""
    if isinstance(node, dict):
        out: Dict[str, object] = {}
        for key, value in node.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: json.loads(json.dumps(node, default=str))}


def step_options(step: dict, step_cfg: Optional[Config]) -> Dict[str, object]:
    """What a step's result depends on besides its inputs: its settings in the pipeline and
    the whole config it runs on (which holds the paths of its inputs), flattened."""
    options = flatten({k: step[k] for k in STEP_SETTINGS if k in step}, 'step.')
    if step_cfg is not None:
        options.update(flatten(step_cfg.to_dict()))
    return options


def step_inputs(step: dict, records: Dict[str, dict]) -> Dict[str, dict]:
    """Each input of a step: the step it comes from, the artefact that step recorded and the
    run that made it (a step redone makes a new run, even where its output path is the same)."""
    sources = dict(step.get('inputs', {}))
    for key in ('seeds', 'sam_masks'):
        if step['tool'] == 'eval_seeds' and key in step:
            sources[key] = step[key]
    return {key: dict(step=src, output=records[src]['output'], run=records[src].get('run'))
            for key, src in sources.items()}


def what_changed(record: dict, options: Dict[str, object], inputs: Dict[str, dict]) -> str:
    """'' when a step's record matches its options and inputs now, else the first difference,
    in words. A record from before records held options matches (it is trusted as it was)."""
    if 'options' not in record:
        return ''
    old = record['options']
    # the config's keys first: they name the setting as the config has it
    for key in sorted(set(old) | set(options), key=lambda k: (k.startswith('step.'), k)):
        if old.get(key, '<unset>') != options.get(key, '<unset>'):
            name = key[len('step.'):] if key.startswith('step.') else key
            return (f'{name}={json.dumps(old.get(key, "<unset>"))}, now '
                    f'{json.dumps(options.get(key, "<unset>"))}')
    for key, now in inputs.items():
        before = record.get('inputs', {}).get(key)
        if before != now:
            return f'input {key} from step {now["step"]}, which was redone since'
    return ''


def read_record(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_record(path: str, record) -> None:
    with atomic_write(path, 'w') as f:
        json.dump(record, f, indent=2)


def trained_checkpoint(step_dir: str, expected: str) -> str:
    """The checkpoint a train step ended with: the one mmengine names in ``last_checkpoint``
    (not the latest file in the folder)."""
    pointer = osp.join(step_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last and osp.isfile(last):
            return last
    return expected


def run_pipeline(cfg: Config, gpus: int = 1, nproc: int = 1, log=print,
                 redo: Sequence[str] = (), verbose: bool = False) -> List[dict]:
    """Run the steps of a pipeline config in order; returns one record per step (the summary).

    Each step leaves ``step.json`` when it starts and ``done.json`` when it finishes, both
    holding its options (:func:`step_options`), its inputs (:func:`step_inputs`) and a run id;
    ``done.json`` also the artefact it produced, which later steps take. A finished step whose
    options and inputs are unchanged is skipped; one killed before it finished is resumed in its
    folder. A step whose options or inputs changed since it ran (or started) is refused, with
    the first change, unless it is in ``redo`` or takes an input from a step redone in this run:
    then its folder is moved aside (``<step>.old-<time>``) and it runs in a fresh one.
    Each step says ``step k/n`` when it starts and ends; its tool's console is quiet
    (progress and result) unless ``verbose``.
    """
    steps = cfg.steps
    check_steps(steps)
    unknown = [name for name in redo if name not in steps]
    if unknown:
        raise PipelineError(f'--redo {" ".join(unknown)}: no such step (steps: {list(steps)})')
    os.makedirs(cfg.work_dir, exist_ok=True)
    outputs: Dict[str, str] = {}
    configs: Dict[str, Config] = {}
    done_records: Dict[str, dict] = {}
    redone: set = set()
    records = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
    for k, (name, step) in enumerate(steps.items(), 1):
        tool, step_dir = step['tool'], osp.join(cfg.work_dir, name)
        title = f'step {k}/{len(steps)} {name}'
        step_cfg = None if tool == 'eval_seeds' else step_config(step, outputs, step_dir)
        configs[name] = step_cfg
        options, inputs = step_options(step, step_cfg), step_inputs(step, done_records)
        done_file, started_file = osp.join(step_dir, DONE), osp.join(step_dir, STARTED)
        config_file = osp.join(cfg.work_dir, 'configs', name + '.py')
        previous = read_record(done_file) or read_record(started_file)
        changed = what_changed(previous, options, inputs) if previous else ''
        forced = name in redo or any(i['step'] in redone for i in inputs.values())
        if previous and (changed or forced):
            if not forced:
                raise PipelineError(
                    f'step {name} ran with {changed}: rerun with --redo {name} to redo it (and '
                    f'the steps that use it) in a fresh folder, or restore the option')
            aside = f'{step_dir}.old-{time.strftime("%Y%m%d-%H%M%S")}'
            os.replace(step_dir, aside)
            log(f'{title}: redone in a fresh folder; the earlier run is in {aside}')
            previous = None
        done = read_record(done_file)
        if done and osp.exists(done['output']):
            done_records[name] = done
            outputs[name] = done['output']
            log(f'{title}: done before ({done["output"]}), skipped')
            records.append(dict(done, status='skipped'))
            continue
        run_id = previous['run'] if previous and 'run' in previous else \
            f'{time.strftime("%Y%m%d-%H%M%S")}-{os.getpid()}'
        if not previous or 'run' not in previous:
            redone.add(name)  # a new run: the steps that take its output are redone too
        os.makedirs(step_dir, exist_ok=True)
        write_record(started_file, dict(step=name, tool=tool, run=run_id, options=options,
                                        inputs=inputs))
        output = step_output(tool, step_dir, step_cfg)
        log(f'\n{title}: {tool}' + (f' {step["config"]}' if 'config' in step else '') +
            f' -> {output}')
        start = time.time()
        if tool == 'eval_seeds':
            numbers = evaluate_seeds(configs[step['seeds']], outputs[step['seeds']], output, nproc,
                                     step.get('powers'), outputs.get(step.get('sam_masks')),
                                     verbose)
        else:
            os.makedirs(osp.dirname(config_file), exist_ok=True)
            step_cfg.dump(config_file)
            command = tool_command(tool, config_file, step_dir, output, gpus,
                                   step.get('show_dir'), step_cfg.get('load_from'),
                                   save_cams=step.get('save_cams', False),
                                   test_modes=[m for m in TEST_MODES if step.get(m)],
                                   verbose=verbose)
            result = subprocess.run(command, env=env)
            if result.returncode != 0:
                records.append(dict(step=name, tool=tool, status='failed',
                                    seconds=time.time() - start, output=output))
                log(format_summary(records))
                raise PipelineError(f'step {name} failed (exit {result.returncode}); its logs '
                                    f'are in {step_dir}; rerun the pipeline to resume it')
            if tool == 'train':
                output = trained_checkpoint(step_dir, output)
            if not osp.exists(output):
                raise PipelineError(f'step {name} finished without writing {output}')
            numbers = {}
            if tool == 'test':
                with open(output) as f:
                    numbers = json.load(f)
        outputs[name] = output
        record = dict(step=name, tool=tool, seconds=round(time.time() - start, 2), output=output,
                      miou=numbers.get('mIoU'), run=run_id, options=options, inputs=inputs)
        write_record(done_file, record)
        done_records[name] = record
        records.append(dict(record, status='ran'))
        log(f'{title}: done in {record["seconds"]:.1f} s' +
            (f', mIoU {record["miou"]:.2f}' if record['miou'] is not None else ''))
    write_record(osp.join(cfg.work_dir, 'summary.json'),
                 [{k: v for k, v in r.items() if k != 'options'} for r in records])
    return records


def format_summary(records: List[dict]) -> str:
    """The closing table: each step's status, time and mIoU, then the last seed mIoU and the
    val mIoU of every test step (e.g. single-scale and multi-scale + flip)."""
    rows = [('step', 'tool', 'status', 'time', 'mIoU')]
    for r in records:
        miou = r.get('miou')
        rows.append((r['step'], r['tool'], r['status'], f'{r["seconds"]:.1f} s',
                     '' if miou is None else f'{miou:.2f}'))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [' | '.join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    seeds = [r for r in records if r['tool'] == 'eval_seeds' and r.get('miou') is not None]
    tests = [r for r in records if r['tool'] == 'test' and r.get('miou') is not None]
    if seeds:
        lines.append(f'seed mIoU ({seeds[-1]["step"]}): {seeds[-1]["miou"]:.2f}')
    for test in tests:
        lines.append(f'val mIoU ({test["step"]}): {test["miou"]:.2f}')
    return '\n'.join(lines)
