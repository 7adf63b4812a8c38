"""TUSS's images without labels (open vocabulary, the unlabelled images of semi supervision) are
seeded by the open-vocabulary recipe (docs/tuss.md §6): no min-max across masks, so a class
appears only where a mask matches it, not in every image."""
import numpy as np
import torch
from conftest import VOC
from test_tuss_models import run_stage, tree, zero_shot_model  # noqa: F401 (fixture)

from wsss.io.mask_store import load_split, shard_path, store_dir
from wsss.models.tuss import seed_on_logits
from wsss.models.tuss.zero_shot import OPEN_VOCABULARY


def noise_logits(masks: int, names: int, seed: int = 0) -> torch.Tensor:
    """100·cos with cosines 0.2 ± 0.02: CLIP-like logits that favour no class."""
    gen = torch.Generator().manual_seed(seed)
    return 100 * (0.2 + 0.02 * torch.randn(masks, names, generator=gen, dtype=torch.float64))


def distinct_foreground(seeds) -> int:
    return len(set(seeds.labels.tolist()) - {0})


def test_pure_noise_gives_few_labels_with_the_open_vocabulary_recipe():
    for dataset, C, V in (('voc12', 20, 21), ('coco14', 80, 103)):
        recipe = OPEN_VOCABULARY[dataset]
        ov = seed_on_logits(noise_logits(40, V), range(C),
                            with_bg_logit=recipe['background_class'], **recipe['seeding'])
        # the weak recipe over every class: each class's best mask is min-maxed to 1
        weak = seed_on_logits(noise_logits(40, C + 25), range(C), with_bg_logit=False,
                              softmax=1., norm=True, bg=dict(method='pow', p=0.3))
        assert distinct_foreground(weak) >= 15, dataset
        assert distinct_foreground(ov) <= 3, dataset


def test_voc_open_vocabulary_has_a_background_class_and_no_min_max():
    recipe = OPEN_VOCABULARY['voc12']
    logits = torch.tensor([[30., 20., 10.], [20., 20.5, 10.], [10., 40., 10.]])  # bg, A, B
    seeds = seed_on_logits(logits, range(2), with_bg_logit=True, **recipe['seeding'])
    p = torch.softmax(logits, dim=1)
    expected = torch.cat([p[:, :1] ** (1 / 16), p[:, 1:]], dim=1)
    torch.testing.assert_close(seeds.scores, expected)
    assert seeds.labels.tolist() == [0, 0, 1]  # 0.62 for A loses to 0.38^(1/16) = 0.94


def test_ov_and_unlabelled_semi_images_use_the_open_vocabulary(tree, tmp_path):  # noqa: F811
    dataset, mask_dir = tree
    ov = run_stage(zero_shot_model(mask_dir, supervision='ov'), dataset,
                   str(tmp_path / 'ov/seeds'))
    store = load_split(store_dir(ov), ['logits', 'scores', 'cls_lb'])
    assert store['logits'].shape == (7, 21)  # ['background'] + 20 names
    assert store['cls_lb'].all()
    labelled = tmp_path / 'labelled.txt'
    labelled.write_text('img_b\n')
    model = zero_shot_model(mask_dir, supervision='semi', labelled=str(labelled))
    semi = run_stage(model, dataset, str(tmp_path / 'semi/seeds'))
    a = np.load(shard_path(store_dir(semi), 'img_a'))
    b = np.load(shard_path(store_dir(semi), 'img_b'))
    assert a['logits'].shape[1] == 21 and b['logits'].shape[1] == 45
    np.testing.assert_allclose(a['scores'], np.load(shard_path(store_dir(ov), 'img_a'))['scores'])
    assert b['scores'][0, VOC['dog']] == 1
