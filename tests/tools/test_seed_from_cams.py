"""Seeds of the split path (a job that writes CAM files only, then the CPU job over them) equal,
byte for byte, the seeds of the one-job path, for dense CRF (released and clean) and SAMS on raw
CAMs; and the CPU job's resume, failure list and errors. A tiny random CLIP on generated
non-square images with one to three of four classes each."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT, run_tool_here
from mmengine.config import Config
from pycocotools import mask as mask_utils

from wsss.datasets import VOC12Dataset
from wsss.datasets.synthetic import make_synthetic_voc
from wsss.evaluation import SeedWriter
from wsss.evaluation.cam_seeding import read_image_cams, seed_cam_dir, warn_rounded_cams
from wsss.io.cams import load_cams, save_cams
from wsss.io.sam_masks import save_masks
from wsss.io.seeds import SeedError, read_label_map, write_label_map
from wsss.models.seeders.base import model_seeder
from wsss.registry import MODELS, SEEDERS

TINY = 'configs/clip_es/clip-es_vit-tiny_minivoc.py'
PIPELINE = [dict(type='LoadImage'), dict(type='ResizeToMultiple'), dict(type='PackWSSSInputs')]
SIZE = (40, 56)  # (H, W): not square, and not a multiple of the ViT's patch


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> str:
    root = make_synthetic_voc(str(tmp_path_factory.mktemp('data') / 'voc'), (('train', 4),),
                              size=SIZE, seed=3)
    labels = [VOC12Dataset(data_root=root, split='train').get_data_info(i)['img_labels']
              for i in range(4)]
    assert max(int(np.sum(x)) for x in labels) >= 2  # images of several classes
    assert len(set().union(*(np.flatnonzero(x) for x in labels))) >= 3
    write_sam_masks(root)
    return root


def write_sam_masks(root: str) -> None:
    """SAM masks per image: each GT class region (whole), and overlapping boxes (part,
    sub-part), so that SAMS's scores, painting order and uncovered pixels all count."""
    for name in open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')).read().split():
        gt = read_label_map(osp.join(root, 'SegmentationClass', name + '.png'))
        masks = [(gt == c, 2) for c in np.unique(gt) if 0 < c < 255]
        for i, (y, x) in enumerate(((0, 0), (10, 20), (20, 8))):
            box = np.zeros(SIZE, bool)
            box[y:y + 22, x:x + 30] = True
            masks.append((box, i % 2))
        records = [dict(segmentation=mask_utils.encode(np.asfortranarray(m.astype(np.uint8))),
                        level=level, predicted_iou=0.9, stability_score=0.95, area=int(m.sum()),
                        bbox=[0, 0, 1, 1]) for m, level in masks]
        save_masks(osp.join(root, 'sam_masks', name + '.json'), records, SIZE)


def model_config(root: str, case: str) -> Config:
    model = Config.fromfile(osp.join(ROOT, TINY)).model
    if case == 'sams_raw':
        model.update(raw_cam=True, seeder=dict(type='SAMSSeeder', bg_power=0.6,
                                                mask_dir=osp.join(root, 'sam_masks')))
    else:  # CRFSeeder with released=None follows the model's switch
        model.update(released=case == 'crf_released', seeder=dict(type='CRFSeeder'))
    return model


def one_job_and_cam_files(root: str, model_cfg: Config, seed_dir: str, cam_dir: str) -> None:
    """What tools/generate_seeds.py does, in this process: the model leaves the seeder to the
    writer; one writer makes the seeds (one-job path), one the CAM files only (--cams-only)."""
    torch.manual_seed(0)
    model = MODELS.build(dict(model_cfg, defer_seeding=True))
    dataset = VOC12Dataset(data_root=root, split='train', pipeline=PIPELINE)
    one_job, cams_only = SeedWriter(seed_dir, workers=0), SeedWriter(None, cam_dir, workers=0)
    for i in range(len(dataset)):
        item = dataset[i]
        with torch.no_grad():
            out, = model.predict([item['inputs']], [item['data_samples']])
        for writer in (one_job, cams_only):
            writer.process(None, [out.to_dict()])


def folder_bytes(folder: str) -> dict:
    return {f: open(osp.join(folder, f), 'rb').read() for f in sorted(os.listdir(folder))}


@pytest.mark.parametrize('case', ['crf_released', 'crf_clean', 'sams_raw'])
def test_split_path_writes_the_seeds_of_the_one_job_path(data, tmp_path, case):
    model_cfg = model_config(data, case)
    one_job, cam_dir, split = (str(tmp_path / d) for d in ('one_job', 'cams', 'split'))
    one_job_and_cam_files(data, model_cfg, one_job, cam_dir)
    assert sorted(os.listdir(cam_dir)) == [f'train_{i:04d}.npz' for i in range(4)]
    with np.load(osp.join(cam_dir, 'train_0000.npz')) as stored:
        # as the seeder takes them: the released CRF rounds them to float16 itself
        assert stored['cams'].dtype == (np.float16 if case == 'crf_released' else np.float32)
    seeder = model_seeder(model_cfg)  # as tools/seed_from_cams.py builds it
    assert getattr(seeder, 'released', None) == (True if case == 'crf_released' else
                                                 False if case == 'crf_clean' else None)
    metrics = seed_cam_dir(VOC12Dataset(data_root=data, split='train'), cam_dir, split, seeder,
                           nproc=0)
    assert (metrics['written'], metrics['failed']) == (4, 0)
    expected = folder_bytes(one_job)
    assert len(expected) == 8 and folder_bytes(split) == expected
    seeds = [read_label_map(osp.join(split, f'train_{i:04d}.png')) for i in range(4)]
    assert seeds[0].shape == SIZE and len(np.unique(np.concatenate(seeds))) >= 3


def test_cpu_job_resumes_lists_bad_cam_files_and_checks_them(data, tmp_path):
    """Two workers; a finished seed is kept, a cut one redone; a missing CAM file and one of
    other classes fail their image only, named in failed.json; CAMs of another size are
    refused."""
    model_cfg = model_config(data, 'sams_raw')
    cam_dir, seed_dir = str(tmp_path / 'cams'), str(tmp_path / 'seeds')
    one_job_and_cam_files(data, model_cfg, str(tmp_path / 'one_job'), cam_dir)
    dataset = VOC12Dataset(data_root=data, split='train')
    kept = np.full(SIZE, 7, np.uint8)
    write_label_map(osp.join(seed_dir, 'train_0000.png'), kept)
    open(osp.join(seed_dir, 'train_0001.png'), 'wb').write(b'\x89PNG cut short')
    os.remove(osp.join(cam_dir, 'train_0002.npz'))
    ids, cams = load_cams(osp.join(cam_dir, 'train_0003.npz'))
    np.savez(osp.join(cam_dir, 'train_0003.npz'), class_ids=ids + 1, cams=cams)
    failed_file = str(tmp_path / 'failed.json')
    metrics = seed_cam_dir(dataset, cam_dir, seed_dir, model_seeder(model_cfg),
                           nproc=2, failed_file=failed_file)
    assert (metrics['written'], metrics['failed']) == (1, 2)
    np.testing.assert_array_equal(read_label_map(osp.join(seed_dir, 'train_0000.png')), kept)
    assert folder_bytes(seed_dir)['train_0001.png'] == \
        folder_bytes(str(tmp_path / 'one_job'))['train_0001.png']
    reasons = {osp.basename(f['file']): f['reason'] for f in json.load(open(failed_file))}
    assert 'no CAM file' in reasons['train_0002.jpg'] and '--cams-only' in reasons['train_0002.jpg']
    assert f'train_0003.npz: CAMs of classes {(ids + 1).tolist()}, but the image is labelled ' \
        f'{ids.tolist()}' in reasons['train_0003.jpg']
    np.savez(osp.join(cam_dir, 'train_0001.npz'), class_ids=ids, cams=cams[:, :, :-1])
    with pytest.raises(SeedError, match='CAMs of size 55x40 \\(WxH\\) for an image of size 56x40'):
        read_image_cams(osp.join(cam_dir, 'train_0001.npz'), dataset.get_data_info(3))


def test_tools_cams_only_then_seed_from_cams(data, tmp_path, monkeypatch, capsys):
    """The two tools end to end (argmax, the tiny config's seeder): --cams-only writes no seed,
    the CPU job's seeds equal a whole run's; a seeder without its settings is one line."""
    work, cam_dir = str(tmp_path / 'work'), str(tmp_path / 'cams')
    common = ['--work-dir', work, '--cfg-options', f'test_dataloader.dataset.data_root={data}']
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        assert run_tool_here(monkeypatch, 'generate_seeds.py', TINY, '--save-cams', cam_dir,
                             '--cams-only', *common, 'tf32=True') == 0
        assert torch.backends.cuda.matmul.allow_tf32  # the config's setting reached the job
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
    assert len(os.listdir(cam_dir)) == 4 and not osp.exists(osp.join(work, 'seeds'))
    assert run_tool_here(monkeypatch, 'seed_from_cams.py', TINY, '--cam-dir', cam_dir,
                         '--nproc', '2', *common) == 0
    assert 'seeds/written: 4, seeds/failed: 0 (ArgmaxSeeder' in capsys.readouterr().out
    one_job = str(tmp_path / 'one_job')
    one_job_and_cam_files(data, Config.fromfile(osp.join(ROOT, TINY)).model, one_job,
                          str(tmp_path / 'unused'))
    assert folder_bytes(osp.join(work, 'seeds')) == folder_bytes(one_job)
    error = run_tool_here(monkeypatch, 'seed_from_cams.py', TINY, '--cam-dir', cam_dir,
                          '--seeder', 'SAMSSeeder', *common)  # a message: exit code 1
    assert 'SAMSSeeder' in error and "'mask_dir'" in error and '--seeder-options' in error


def test_float16_cam_files_are_flagged_for_seeders_that_take_float32(tmp_path, monkeypatch):
    said = []  # the warnings
    monkeypatch.setattr('wsss.evaluation.cam_seeding.print_log', lambda msg, **_: said.append(msg))
    path = str(tmp_path / 'a.npz')
    save_cams(path, [3], np.full((1, 4, 6), 0.3, np.float32))  # float16, as --save-cams stores
    warn_rounded_cams([str(tmp_path / 'missing.npz'), path], SEEDERS.build(
        dict(type='CRFSeeder', released=True)))  # rounds to float16 itself: nothing to say
    assert said == []
    warn_rounded_cams([path], SEEDERS.build(dict(type='CRFSeeder', released=False)))
    assert len(said) == 1 and said[0].startswith(f'{path} holds float16 CAMs')
    save_cams(path, [3], np.full((1, 4, 6), 0.3, np.float32), raw=True)  # float32
    warn_rounded_cams([path], SEEDERS.build(dict(type='ArgmaxSeeder')))
    assert len(said) == 1
