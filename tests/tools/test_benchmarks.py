"""Every benchmark of tools/benchmark/ runs on tiny inputs and prints its table: tiny random
models through the real code paths (the scripts' ``--tiny``), so that a refactor cannot break
them silently. Also the library hooks the baselines are built from."""
import importlib
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import ROOT
from mmengine.config import Config

from wsss.models.clip_es.cam import gradcam_per_class_loop, softmax_gradcam
from wsss.registry import MODELS
from wsss.utils.benchmark import Stopwatch, preload_for_children

BENCH = osp.join(ROOT, 'tools', 'benchmark')
sys.path.insert(0, BENCH)
sys.path.insert(0, osp.join(BENCH, 'device_kit'))
# the children of the memory measurements start with the libraries imported, once per run
preload_for_children(['wsss.apis', 'wsss.models', 'mmengine.runner'])


def run_main(name: str, argv: list, capsys) -> str:
    code = importlib.import_module(name).main(argv)
    assert not code, f'{name} exited with {code}'
    return capsys.readouterr().out


def table_rows(out: str, first_cell: str) -> list:
    return [line for line in out.splitlines() if line.startswith(f'| {first_cell}')]


# ---------------------------------------------------------------- the library's hooks
@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clip_es/clip-es_vit-tiny_minivoc.py'))
    return MODELS.build(cfg.model).eval()


def test_per_class_loop_of_one_class_after_each_forward_is_the_full_loop(tiny_model):
    image = torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8)
    labels = torch.zeros(1, 20)
    labels[0, [3, 7, 11]] = 1
    text = tiny_model.predict_text_features()
    scale = tiny_model.clip.logit_scale.exp()

    def gradcams(**kwargs):
        with torch.enable_grad():
            out = tiny_model.encoder(tiny_model.normalize(image))
            return gradcam_per_class_loop(out.ln1, out.image_feature, text, labels, scale,
                                          out.grid, **kwargs)[0]
    full = gradcams()
    one_by_one = torch.cat([gradcams(classes=[c]) for c in (3, 7, 11)])
    assert full.shape == (3, 4, 6)
    torch.testing.assert_close(one_by_one, full, rtol=0, atol=1e-6)
    assert len(gradcams(classes=[5])) == 0  # not labelled: no CAM


def test_batch_cams_takes_the_baseline_gradcam_and_marks_its_stages(tiny_model):
    images = torch.randint(0, 255, (2, 3, 64, 96), dtype=torch.uint8)
    labels = torch.zeros(2, 20)
    labels[0, [1, 4]] = 1
    labels[1, 9] = 1
    text = tiny_model.predict_text_features()
    watch = Stopwatch()
    with watch.listen():
        batched = tiny_model.batch_cams(images, labels, text)
    loop = tiny_model.batch_cams(images, labels, text, gradcam=gradcam_per_class_loop)
    assert tiny_model.batch_cams.__defaults__ == (softmax_gradcam,)
    assert set(watch.seconds) == {'caa'}  # CAA on: marked; nothing else
    for a, b in zip(batched, loop):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


# ---------------------------------------------------------------- the scripts
def test_resume_check_prints_its_ratios(capsys):
    out = run_main('resume_check', ['--sizes', '5', '10'], capsys)
    rows = [line.split('|') for line in out.splitlines()[2:]]
    assert [int(r[0]) for r in rows] == [5, 10] and all('x)' in r[2] for r in rows)


def test_cam_seeds_prints_its_table_and_the_gradcams_agree(capsys):
    out = run_main('cam_seeds', ['--device', 'cpu', '--tiny', '--images', '2', '--warmup', '0',
                                 '--labels', '1', '2', '--sizes', '64x96'], capsys)
    rows = table_rows(out, 'per-class') + table_rows(out, 'wsss')
    assert len(rows) == 3 and rows[0].endswith('| 1.00x |')
    assert 'GradCAMs match' in out


def test_image_memory_prints_its_table(capsys):
    out = run_main('image_memory', ['--tiny', '--device', 'cpu'], capsys)
    rows = [line for line in out.splitlines() if line.startswith(('clip ', 'sam '))]
    assert len(rows) == 4 and '1.00x' in rows[0] and '1.00x' in rows[2]


def test_sam_masks_prints_its_table_and_the_stock_masks(capsys):
    out = run_main('sam_masks', ['--device', 'cpu', '--tiny', '--images', '1'], capsys)
    rows = table_rows(out, 'stock') + table_rows(out, 'wsss')
    assert len(rows) == 3 and rows[1].endswith('| yes |')


def test_seed_throughput_prints_its_table(capsys):
    out = run_main('seed_throughput', ['--tiny', '--images', '2', '--methods', 'cam'], capsys)
    rows = table_rows(out, 'CLIP-ES CAM + CAA')
    assert [r.split('|')[2].strip() for r in rows] == ['baseline', 'wsss']
    assert rows[0].endswith('| 1.00x |') and 'seed pixels differ' in out


def test_seed_cpu_prints_its_steps_and_the_painting_table(capsys):
    out = run_main('seed_cpu', ['--tiny', '--images', '2', '--repeats', '1', '--masks', '3'],
                   capsys)  # it also checks that both paintings give the same winners
    assert len(table_rows(out, 'SAMS: ')) == 6 and len(table_rows(out, 'argmax')) == 5
    assert 'cores of this machine per GPU' in out and len(table_rows(out, 'tiny')) == 1


def test_split_seeding_prints_both_tables(capsys):
    out = run_main('split_seeding', ['--tiny', '--images', '2', '--repeats', '1',
                                     '--max-nproc', '1'], capsys)
    assert len(table_rows(out, 'SAMS: seeder')) == 1 and 'speed-up of nproc' in out


def test_tuss_prints_each_step_and_the_scale_fit(capsys):
    out = run_main('tuss', ['--tiny', '--masks', '4', '--knn-n', '300', '--probe-iters', '2',
                            '--warmup', '0'], capsys)
    assert 'speed-up' in out and 'iterations/s' in out and 'per 1,000 images' in out
    out = run_main('tuss', ['--scale', '--scale-n', '200', '400', '--scale-methods', 'exact'],
                   capsys)
    assert 'measured growth' in out and 'COCO N=3,300,000' in out


BLOCKED = ('mmengine', 'mmseg', 'mmcv', 'cv2', 'transformers', 'huggingface_hub')


@pytest.mark.parametrize('script, args, header', [
    ('bench_clip.py', ['--tiny', '--device', 'cpu', '--batches', '2', '--images', '2',
                       '--warmup', '1', '--size', '64x96', '--precisions', 'fp32', 'bf16'],
     '| bf16 | 2 |'),
    ('bench_sam.py', ['--device', 'cpu', '--model', 'tiny', '--images', '1', '--warmup', '0',
                      '--size', '96x64', '--points-per-side', '4', '--points-per-batch', '4',
                      '16'], 'bfloat16       16 '),  # a row per dtype and prompt batch
])
def test_device_kit_runs_from_the_packed_files_alone(tmp_path, script, args, header):
    """The kit's files (pack.py's assemble: no wheels, no download) run with mmengine, OpenCV
    and the other libraries the GPU machine lacks blocked, and wsss from the kit only."""
    import pack
    kit = str(tmp_path / 'device_kit')
    pack.assemble(kit)
    code = (f'import runpy, sys; sys.modules.update(dict.fromkeys({BLOCKED!r})); '
            f'sys.argv = [{script!r}, *{args!r}]; runpy.run_path({script!r}, run_name="__main__")')
    env = {**os.environ, 'PYTHONPATH': kit}
    proc = subprocess.run([sys.executable, '-c', code], cwd=kit, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert header in proc.stdout


def write_wheel(path: str) -> None:
    """A one-module pure-Python wheel (``kit_probe``), enough for pip and for a plain unzip."""
    import zipfile
    info = 'kit_probe-1.0.dist-info'
    files = {'kit_probe.py': 'WHERE = "site"\n',
             f'{info}/METADATA': 'Metadata-Version: 2.1\nName: kit-probe\nVersion: 1.0\n',
             f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
                              'Tag: py3-none-any\n'}
    files[f'{info}/RECORD'] = ''.join(f'{name},,\n' for name in files) + f'{info}/RECORD,,\n'
    with zipfile.ZipFile(path, 'w') as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


@pytest.mark.parametrize('has_pip', [True, False], ids=['pip', 'no-pip'])
def test_device_kit_run_sh_installs_the_wheels_once_with_or_without_pip(tmp_path, has_pip):
    """run.sh puts the kit's wheels on the path, by pip or, on a Python without pip, unzipped;
    an install cut short (site.tmp left behind) is redone."""
    import pack
    kit = tmp_path / 'device_kit'
    pack.assemble(str(kit))
    (kit / 'wheels').mkdir()
    write_wheel(str(kit / 'wheels' / 'kit_probe-1.0-py3-none-any.whl'))
    (kit / 'probe.py').write_text('import kit_probe, sys; print(kit_probe.WHERE, sys.argv[1:])\n')
    (kit / 'site.tmp').mkdir()  # a cut install
    (kit / 'site.tmp' / 'kit_probe.py').write_text('WHERE = "cut"\n')
    shim = tmp_path / 'bin'
    shim.mkdir()
    refuse_pip = 'if [ "$1 $2" = "-m pip" ]; then echo "No module named pip" >&2; exit 1; fi\n'
    (shim / 'python3').write_text('#!/bin/bash\n' + ('' if has_pip else refuse_pip)
                                  + f'exec {sys.executable} "$@"\n')
    (shim / 'python3').chmod(0o755)
    env = {**os.environ, 'PATH': f'{shim}:{os.environ["PATH"]}'}
    env.pop('PYTHONPATH', None)
    for _ in range(2):  # the second run finds site/ and installs nothing
        proc = subprocess.run(['bash', str(kit / 'run.sh'), 'probe.py', '--x'], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "site ['--x']"
        assert (kit / 'site' / 'kit_probe.py').exists() and not (kit / 'site.tmp').exists()
