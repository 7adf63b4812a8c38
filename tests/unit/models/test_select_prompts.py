"""Sharpness-based prompt selection against a step-by-step computation (its tool: tests/tools)."""
import numpy as np
import pytest
import torch

from wsss.models.clip import TextEncoder, build_clip, build_tokenizer
from wsss.models.clip_es.prompt_selection import dispersion, template_sharpness

TINY = dict(
    embed_dim=32, quick_gelu=True,
    vision_cfg=dict(image_size=48, patch_size=16, width=128, layers=3, head_width=64),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))
CLASSES = ('cat', 'dog', 'person with clothes,people,human')
BACKGROUND = ('grass', 'sky')
TEMPLATES = ['a photo of a {}.', 'a clean origami {}.', 'art of the {}.']


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return build_clip('tiny', pretrained=None, model_cfg=TINY), build_tokenizer('tiny', TINY)


def labelled_images():
    g = torch.Generator().manual_seed(1)
    labels = [[1, 0, 1], [1, 1, 1], [0, 1, 0], [0, 1, 1]]  # the third is single-label
    return [(torch.randn(3, 48, 48, generator=g), np.array(y, np.uint8)) for y in labels]


def sharpness_by_hand(model, tokenizer, images, template: str) -> float:
    """open_clip's own forward at the native 48x48 size: the patch tokens after ln_post, times
    proj, averaged; encode_text of every formatted prompt; softmax; variance / mean."""
    model.visual.output_tokens = True
    values = []
    try:
        for image, labels in images:
            if labels.sum() < 2:
                continue
            with torch.no_grad():
                _, tokens = model.visual(image[None])
                texts = model.encode_text(tokenizer(
                    [template.format(n) for n in (*CLASSES, *BACKGROUND)]))
            f = (tokens[0] @ model.visual.proj).mean(0).double().numpy()
            t = texts.double().numpy()
            f, t = f / np.linalg.norm(f), t / np.linalg.norm(t, axis=1, keepdims=True)
            logits = np.exp(model.logit_scale.item()) * t @ f
            p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            target = p[:len(CLASSES)][labels.astype(bool)]
            values.append(target.var() / target.mean())
    finally:
        model.visual.output_tokens = False
    return float(np.mean(values))


def test_template_sharpness_by_hand(tiny):
    model, tokenizer = tiny
    images = labelled_images()
    scores = template_sharpness(model, tokenizer, iter(images), TEMPLATES, CLASSES, BACKGROUND)
    assert list(scores) == TEMPLATES
    expected = {t: sharpness_by_hand(model, tokenizer, images, t) for t in TEMPLATES}
    for t in TEMPLATES:
        assert scores[t] == pytest.approx(expected[t], rel=1e-4)
    assert len(set(scores.values())) == len(TEMPLATES)
    ranking = sorted(scores, key=scores.get)
    assert ranking == sorted(expected, key=expected.get)
    # a TextEncoder works as well as a tokenizer
    again = template_sharpness(model, TextEncoder(model, tokenizer), images, TEMPLATES[:1],
                               CLASSES, BACKGROUND)
    assert again[TEMPLATES[0]] == pytest.approx(scores[TEMPLATES[0]], rel=1e-6)


def test_single_label_images_are_skipped(tiny):
    model, tokenizer = tiny
    images = labelled_images()
    multi = [x for x in images if x[1].sum() >= 2]
    args = (TEMPLATES[:1], CLASSES, BACKGROUND)
    assert (template_sharpness(model, tokenizer, images, *args)
            == template_sharpness(model, tokenizer, multi, *args))
    with pytest.raises(ValueError, match='at least two labelled classes'):
        template_sharpness(model, tokenizer, [images[2]], *args)
    with pytest.raises(ValueError, match='multi-hot over the 3 classes'):
        template_sharpness(model, tokenizer, [(images[0][0], np.ones(4))], *args)
    with pytest.raises(ValueError, match='need a'):
        template_sharpness(model, tokenizer, images, ['a photo.'], CLASSES, BACKGROUND)


def test_dispersion_by_hand():
    probs = torch.tensor([[0.2, 0.6, 0.1, 0.1], [0.3, 0.3, 0.3, 0.1]])
    labels = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0]])
    # row 0: mean .4, variance .04 -> .1; row 1: balanced -> 0
    torch.testing.assert_close(dispersion(probs, labels), torch.tensor([0.1, 0.0]))
