"""TUSS stage models in process on hand-made SAM masks of the tiny VOC tree (conftest.voc_root):
zero-shot mask labels for every supervision type, the mask store, LP and probe seeding and the
combination, each seed painted from the masks."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from conftest import ROOT, VOC
from mmengine.config import Config
from mmseg.structures import SegDataSample
from pycocotools import mask as mask_utils
from reference_math import transductive_combination

from wsss.datasets import VOC12Dataset
from wsss.datasets.samplers import PendingMaskStoreSampler
from wsss.evaluation import MaskStoreWriter
from wsss.io.mask_store import load_split, save_shard, shard_path, store_dir
from wsss.io.sam_masks import mask_path, save_masks
from wsss.io.seeds import find_seed_problems, read_label_map, write_label_map
from wsss.models.tuss import TUSSCombinationModel, TUSSLabelPropagationModel, TUSSLinearProbe
from wsss.models.tuss.stage import kept_classes
from wsss.registry import MODELS

TINY = osp.join(ROOT, 'configs/tuss/tuss-zero-shot_vit-tiny_minivoc.py')


def rle_records(masks, levels):
    out = []
    for m, level in zip(masks, levels):
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        out.append(dict(segmentation=rle, level=level, predicted_iou=.9, stability_score=.9,
                        area=int(m.sum()), bbox=[0, 0, 1, 1]))
    return out


@pytest.fixture
def tree(voc_root, tmp_path):
    """SAM masks for the tiny VOC images: each GT region (level 2), the whole image (level 1)
    and a 2x2 corner (level 0)."""
    dataset = VOC12Dataset(data_root=voc_root, split='train')
    mask_dir = str(tmp_path / 'masks')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        gt = read_label_map(info['seg_map_path'])
        regions = [gt == c for c in np.unique(gt) if c not in (0, 255)]
        corner = np.zeros(gt.shape, bool)
        corner[:2, :2] = True
        masks = regions + [np.ones(gt.shape, bool), corner]
        save_masks(mask_path(mask_dir, info['img_name']),
                   rle_records(masks, [2] * len(regions) + [1, 0]), gt.shape)
    return dataset, mask_dir


def zero_shot_model(mask_dir, **kwargs):
    cfg = Config.fromfile(TINY).model
    cfg.update(mask_dir=mask_dir, short_side=32, dba=dict(window=32, stride=16), **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def run_stage(model, dataset, seed_dir, writer=None):
    """Predict every image (as the test loop does) and write its seed and store shard (with
    ``writer``, a MaskStoreWriter of ``seed_dir``)."""
    writer = writer or MaskStoreWriter(seed_dir=seed_dir, save_confidence=True,
                                       workers=0)  # in process
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        image = torch.from_numpy(np.ascontiguousarray(
            mmcv.imread(info['img_path']).transpose(2, 0, 1)))
        sample = SegDataSample(metainfo={k: info[k] for k in (
            'img_name', 'img_labels', 'img_path', 'seg_map_path')})
        with torch.no_grad():
            out, = model.predict([image], [sample])
        writer.process(None, [out.to_dict()])
    return seed_dir


def test_zero_shot_weak_writes_seeds_and_store(tree, tmp_path):
    dataset, mask_dir = tree
    seeds = run_stage(zero_shot_model(mask_dir), dataset, str(tmp_path / 'zs/seeds'))
    problems = find_seed_problems(
        [(dataset.get_data_info(i)['img_name'], dataset.get_data_info(i)['img_path'])
         for i in range(len(dataset))], seeds, 21)
    assert not any(problems.values())
    store = load_split(store_dir(seeds), ['embeddings', 'scores', 'cls_lb', 'areas', 'levels',
                                          'logits'])
    assert list(store['names']) == ['img_a', 'img_b']
    assert store['embeddings'].shape == (7, 32) and store['logits'].shape == (7, 45)
    np.testing.assert_array_equal(store['offsets'], [0, 4, 7])
    a_lb = np.zeros(21, bool)
    a_lb[[0, VOC['cat'], VOC['person']]] = True
    np.testing.assert_array_equal(store['cls_lb'][0], a_lb)
    assert (store['scores'][:, ~store['cls_lb'][0]][:4] == 0).all()
    assert store['areas'][:4].tolist() == [9, 6, 48, 4]
    assert store['levels'][:4].tolist() == [2, 2, 1, 0]
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        seed = read_label_map(osp.join(seeds, info['img_name'] + '.png'))
        labelled = {c + 1 for c in np.flatnonzero(info['img_labels'])}
        assert set(np.unique(seed)) <= {0} | labelled


def test_zero_shot_full_ov_and_semi(tree, tmp_path):
    dataset, mask_dir = tree
    full = run_stage(zero_shot_model(mask_dir, supervision='full'), dataset,
                     str(tmp_path / 'full/seeds'))
    shard = np.load(shard_path(store_dir(full), 'img_a'))
    assert bool(shard['labelled']) and shard['cls_lb'].all()
    # the GT regions are masks (painted last): one-hot fractions, the seed is the GT there
    assert shard['scores'][0, VOC['cat']] == 1 and shard['scores'][1, VOC['person']] == 1
    gt = read_label_map(dataset.get_data_info(0)['seg_map_path'])
    seed = read_label_map(osp.join(full, 'img_a.png'))
    fg = (gt != 0) & (gt != 255)
    np.testing.assert_array_equal(seed[fg], gt[fg])

    ov = run_stage(zero_shot_model(mask_dir, supervision='ov'), dataset,
                   str(tmp_path / 'ov/seeds'))
    assert np.load(shard_path(store_dir(ov), 'img_b'))['cls_lb'].all()

    labelled = tmp_path / 'labelled.txt'
    labelled.write_text('img_b\n')
    semi = run_stage(zero_shot_model(mask_dir, supervision='semi', labelled=str(labelled)),
                     dataset, str(tmp_path / 'semi/seeds'))
    a, b = (np.load(shard_path(store_dir(semi), n)) for n in ('img_a', 'img_b'))
    assert not bool(a['labelled']) and bool(b['labelled'])
    assert b['scores'][0, VOC['dog']] == 1  # GT fractions of the dog region
    with pytest.raises(FileNotFoundError, match='model.labelled'):
        zero_shot_model(mask_dir, supervision='semi', labelled=str(tmp_path / 'none.txt'))
    with pytest.raises(ValueError, match='model.supervision'):
        zero_shot_model(mask_dir, supervision='strong')


def test_missing_masks_name_the_file_and_the_setting(tree, tmp_path):
    dataset, _ = tree
    with pytest.raises(FileNotFoundError, match='model.mask_dir'):
        run_stage(zero_shot_model(str(tmp_path / 'nowhere')), dataset, str(tmp_path / 's'))


def test_an_image_out_of_memory_is_one_failed_entry(tree, monkeypatch):
    dataset, mask_dir = tree
    model = zero_shot_model(mask_dir)
    info = [dataset.get_data_info(i) for i in range(2)]
    images = [torch.from_numpy(np.ascontiguousarray(mmcv.imread(i['img_path']).transpose(2, 0, 1)))
              for i in info]

    def samples():
        return [SegDataSample(metainfo={k: i[k] for k in ('img_name', 'img_labels', 'img_path')})
                for i in info]

    embed = model.mask_embeddings

    def out_of_memory_on_a(image, masks):
        if len(masks) == 4:  # img_a's
            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 9.00 GiB')
        return embed(image, masks)

    monkeypatch.setattr(model, 'mask_embeddings', out_of_memory_on_a)
    a, b = model.predict(images, samples())
    h, w = images[0].shape[-2:]
    assert a.metainfo['load_error'] == (f"{info[0]['img_path']}: out of memory at {w}x{h} (WxH); "
                                        'lower model.dba.window_batch to seed it on this machine')
    assert 'pred_sem_seg' not in a and 'load_error' not in b.metainfo and 'pred_sem_seg' in b
    monkeypatch.setattr(model, 'mask_embeddings', lambda *args: 1 / 0)  # a bug stops the job
    with pytest.raises(ZeroDivisionError):
        model.predict(images, samples())


def test_glcc_stages_on_the_store(tree, tmp_path):
    dataset, mask_dir = tree
    zs = run_stage(zero_shot_model(mask_dir), dataset, str(tmp_path / 'zs/seeds'))
    lp = run_stage(TUSSLabelPropagationModel(21, mask_dir, zs, zs, k=3), dataset,
                   str(tmp_path / 'lp/seeds'))
    lp_store = load_split(store_dir(lp), ['scores', 'cls_lb'])
    zs_store = load_split(store_dir(zs), ['scores', 'cls_lb'])
    np.testing.assert_array_equal(lp_store['cls_lb'], zs_store['cls_lb'])
    assert (lp_store['scores'][~lp_store['cls_lb']] == 0).all()  # restricted at seeding
    torch.manual_seed(0)
    probe = TUSSLinearProbe(21, embed_dim=32, mask_dir=mask_dir, embeddings_from=zs,
                            scores_from=lp)
    seeds = run_stage(probe, dataset, str(tmp_path / 'probe/seeds'))
    probe_store = load_split(store_dir(seeds), ['scores', 'cls_lb'])
    assert (probe_store['scores'][~probe_store['cls_lb']] == 0).all()
    # combination: transductive LP scores + the probe; inductive against the training store
    comb = TUSSCombinationModel(21, embed_dim=32, mask_dir=mask_dir, embeddings_from=zs,
                                scores_from=lp, lp_scores_from=lp)
    comb.load_state_dict(probe.state_dict())
    comb_store = load_split(store_dir(run_stage(comb, dataset, str(tmp_path / 'comb/seeds'))),
                            ['scores'])
    emb = load_split(store_dir(zs), ['embeddings', 'cls_lb'])
    weight = probe.head.weight.detach().double().numpy()
    for i in range(2):
        rows = slice(emb['offsets'][i], emb['offsets'][i + 1])
        expected = transductive_combination(
            emb['embeddings'][rows].astype(np.float64), weight,
            lp_store['scores'][rows].astype(np.float64), kept_classes(emb['cls_lb'][rows][0]))
        np.testing.assert_allclose(comb_store['scores'][rows], expected, atol=1e-5)
    inductive = TUSSCombinationModel(21, embed_dim=32, mask_dir=mask_dir, embeddings_from=zs,
                                     scores_from=zs, train_embeddings_from=zs,
                                     train_scores_from=lp, k_bar=3, k=3)
    inductive.load_state_dict(probe.state_dict())
    out = run_stage(inductive, dataset, str(tmp_path / 'ind/seeds'))
    for name in ('img_a', 'img_b'):
        assert read_label_map(osp.join(out, name + '.png')).shape == (6, 8)
    with pytest.raises(ValueError, match='lp_scores_from'):
        TUSSCombinationModel(21, embed_dim=32)


def test_semi_lp_keeps_the_labelled_rows(tree, tmp_path):
    dataset, mask_dir = tree
    labelled = tmp_path / 'labelled.txt'
    labelled.write_text('img_b\n')
    zs = run_stage(zero_shot_model(mask_dir, supervision='semi', labelled=str(labelled)),
                   dataset, str(tmp_path / 'zs/seeds'))
    lp_model = TUSSLabelPropagationModel(21, mask_dir, zs, zs, k=3, semi_balance=1.,
                                         bg_fg_balance='eq',
                                         seeding=dict(norm=False))
    lp = run_stage(lp_model, dataset, str(tmp_path / 'lp/seeds'))
    np.testing.assert_allclose(np.load(shard_path(store_dir(lp), 'img_b'))['scores'],
                               np.load(shard_path(store_dir(zs), 'img_b'))['scores'])
    seed = read_label_map(osp.join(lp, 'img_b.png'))
    assert (seed[2:6, 0:5] == VOC['dog']).all()


def test_mask_store_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='model.scores_from'):
        load_split(str(tmp_path / 'none'), ['scores'], setting='model.scores_from')
    save_shard(shard_path(str(tmp_path), 'x'), dict(scores=np.zeros((1, 3))))
    with pytest.raises(KeyError, match='embeddings'):
        load_split(str(tmp_path), ['embeddings'])
    (tmp_path / 'y.npz').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='y.npz'):
        load_split(str(tmp_path), ['scores'])


def test_pending_sampler_waits_for_seed_and_shard_and_removes_temp_files(tree, tmp_path):
    dataset, mask_dir = tree
    seeds = str(tmp_path / 'step/seeds')
    store = store_dir(seeds)
    write_label_map(osp.join(seeds, 'img_a.png'), np.zeros((6, 8), np.uint8))
    save_shard(shard_path(store, 'img_a'), dict(scores=np.zeros((1, 21))))
    write_label_map(osp.join(seeds, 'img_b.png'), np.zeros((6, 8), np.uint8))  # no shard
    stale = shard_path(store, 'img_b') + '.123.tmp'
    open(stale, 'wb').close()
    sampler = PendingMaskStoreSampler(dataset, seeds)
    assert list(sampler) == [1] and not osp.exists(stale)
    with pytest.raises(ValueError, match='--save-cams'):
        PendingMaskStoreSampler(dataset, seeds, cam_dir=str(tmp_path / 'cams'))


def test_store_arrays_that_are_not_numbers_write_nothing_and_fail_the_image(tree, tmp_path):
    """A NaN in one image's embeddings: no shard and no seed for it (one failure naming the
    image and the array), the other image written whole."""
    dataset, mask_dir = tree
    model = zero_shot_model(mask_dir)
    predict = model.predict

    def nan_in_img_a(inputs, samples):
        out = predict(inputs, samples)
        if samples[0].metainfo['img_name'] == 'img_a':
            out[0].mask_store['embeddings'][1, 3] = np.nan
        return out

    model.predict = nan_in_img_a
    seeds = str(tmp_path / 'zs/seeds')
    writer = MaskStoreWriter(seed_dir=seeds, save_confidence=True, workers=0)
    run_stage(model, dataset, seeds, writer)
    writer.add_results(writer.pool.close())
    failed = [r for r in writer.results if r[0] == 'failed']
    assert [(osp.basename(f), reason) for _, f, reason in failed] == [(
        osp.basename(dataset.get_data_info(0)['img_path']),
        "its masks' embeddings are NaN or infinite (the model's output for this image is not "
        'numbers): not written')]
    assert sorted(os.listdir(store_dir(seeds))) == ['img_b.npz']
    assert sorted(os.listdir(seeds)) == ['img_b.png', 'img_b_conf.png']
