"""CoOp prompt learner, FMA-WSSS's losses and crop labels, against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from wsss.models.clip import CLIPDenseEncoder, build_clip, build_tokenizer
from wsss.models.clip_es.cam import softmax_gradcam
from wsss.models.fma.losses import CAMActivationLoss, MultiLabelContrastiveLoss, crop_labels
from wsss.models.fma.prompts import PromptLearner
from wsss.registry import MODELS

TINY = dict(
    embed_dim=32, quick_gelu=True,
    vision_cfg=dict(image_size=48, patch_size=16, width=128, layers=3, head_width=64),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))
SOS, EOS, X, DOT, CAT = 49406, 49407, 343, 269, 2368  # CLIP BPE ids of 'x</w>', '.</w>', 'cat</w>'


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(0)
    return build_clip('tiny', pretrained=None, model_cfg=TINY)


@pytest.fixture(scope='module')
def tokenizer():
    return build_tokenizer('tiny', TINY)


def word_embeddings(clip, tokenizer, phrase: str) -> torch.Tensor:
    """(n, width) frozen token embeddings of the words of ``phrase``."""
    return clip.token_embedding(torch.tensor(tokenizer.encode(phrase)))


def clip_text(clip, tokenizer, texts) -> torch.Tensor:
    return F.normalize(clip.encode_text(tokenizer(texts)), dim=-1)


# ---------------------------------------------------------------------------- prompt learner

@pytest.mark.parametrize('shared', [True, False])
@pytest.mark.parametrize('position', ['end', 'front'])
def test_prompt_learner_shapes(clip, tokenizer, shared, position):
    learner = PromptLearner(clip, tokenizer, ['cat', 'person with clothes,people,human'],
                            ['', 'sky'], n_ctx=5, shared_context=shared,
                            class_token_position=position)
    features = learner()
    assert features.shape == (4, 32) and features.dtype == torch.float32
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(4))
    assert learner.ctx.shape == ((5, 64) if shared else (4, 5, 64))
    assert [name for name, _ in learner.named_parameters()] == ['ctx']
    assert learner.ctx.requires_grad
    assert (learner.num_classes, learner.num_prompts) == (2, 4)
    # CLIP is referenced, not owned; the buffers follow from the names: only the contexts are saved
    assert list(learner.state_dict()) == ['ctx']


def test_prompt_token_layout(clip, tokenizer):
    end = PromptLearner(clip, tokenizer, ['cat'], [''], n_ctx=3)
    assert end.tokens[0, :8].tolist() == [SOS, X, X, X, CAT, DOT, EOS, 0]
    # an empty name: context vectors only
    assert end.tokens[1, :7].tolist() == [SOS, X, X, X, DOT, EOS, 0]
    assert end.ctx_mask[0, :6].tolist() == [False, True, True, True, False, False]
    # CoOp's 'front': prefix, class, context, suffix
    front = PromptLearner(clip, tokenizer, ['cat'], [''], n_ctx=3, class_token_position='front')
    assert front.tokens[0, :8].tolist() == [SOS, CAT, X, X, X, DOT, EOS, 0]
    assert front.ctx_mask[0, :6].tolist() == [False, False, True, True, True, False]
    assert front.tokens[1, :7].tolist() == [SOS, X, X, X, DOT, EOS, 0]
    assert (front.tokens[:, 7:] == 0).all()


def test_prompt_learner_errors(clip, tokenizer):
    with pytest.raises(ValueError, match='class_token_position'):
        PromptLearner(clip, tokenizer, ['cat'], class_token_position='middle')
    with pytest.raises(ValueError, match='context length 77'):
        PromptLearner(clip, tokenizer, ['cat'], n_ctx=74)
    with pytest.raises(TypeError, match='SimpleTokenizer'):
        PromptLearner(clip, lambda texts: None, ['cat'])


def test_contexts_set_to_words_reproduce_encode_text(clip, tokenizer):
    """Context vectors equal to the word embeddings of a phrase give CLIP's own text features."""
    names = ['cat', 'dog', 'potted plant', '']
    expected = clip_text(clip, tokenizer, [f'a photo of a {n}.' if n else 'a photo of a.'
                                           for n in names])
    end = PromptLearner(clip, tokenizer, names[:3], names[3:], n_ctx=4)
    with torch.no_grad():
        end.ctx.copy_(word_embeddings(clip, tokenizer, 'a photo of a'))
    torch.testing.assert_close(end(), expected, atol=1e-5, rtol=1e-5)

    # class-specific contexts at the front: '{name} {own words}.'
    words = ['is here', 'runs fast', 'looks green']
    csc = PromptLearner(clip, tokenizer, names[:3], n_ctx=2, shared_context=False,
                        class_token_position='front')
    with torch.no_grad():
        csc.ctx.copy_(torch.stack([word_embeddings(clip, tokenizer, w) for w in words]))
    expected = clip_text(clip, tokenizer, [f'{n} {w}.' for n, w in zip(names, words)])
    torch.testing.assert_close(csc(), expected, atol=1e-5, rtol=1e-5)


def test_from_dataset_fma_settings(clip, tokenizer):
    seg = PromptLearner.from_dataset(clip, tokenizer, 'voc12', 'seg', n_ctx=2)
    assert seg.num_classes == 20 and seg.background_names == ('',) * 25
    assert not seg.shared_context and seg.class_token_position == 'front'
    assert seg.ctx.shape == (45, 2, 64)
    cls = PromptLearner.from_dataset(clip, tokenizer, 'coco14', 'cls')
    assert cls.num_prompts == 80 + 23 and cls.background_names[0] == 'ground'
    assert cls.shared_context and cls.ctx.shape == (16, 64)
    with pytest.raises(ValueError, match='no FMA prompt settings'):
        PromptLearner.from_dataset(clip, tokenizer, 'voc12', 'test')


def test_prompt_learner_follows_clip_dtype(tokenizer):
    torch.manual_seed(0)
    clip = build_clip('tiny', pretrained=None, model_cfg=TINY).to(torch.bfloat16)
    learner = PromptLearner(clip, tokenizer, ['cat', 'dog'], n_ctx=2)
    assert learner.ctx.dtype == torch.float32 and learner.token_embeds.dtype == torch.bfloat16
    features = learner()
    assert features.dtype == torch.float32
    features[:, 0].sum().backward()
    assert learner.ctx.grad.dtype == torch.float32 and learner.ctx.grad.abs().sum() > 0


# ---------------------------------------------------------------------------- contrastive loss

def test_contrastive_loss_by_hand():
    # text features are the basis vectors, so S = logit_scale * f with logit_scale = 2
    text = torch.eye(3)
    images = torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8], [0.8, 0.0, 0.6]], requires_grad=True)
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    # image 0: S = (1.2, 1.6, 0), pair (0, 0) against negatives {1, 2}:
    #   log(e^1.2 + e^1.6 + e^0) - 1.2 = 1.0271231
    # image 1: S = (0, 1.2, 1.6), negative {2}; pair (1, 0): log(e^0 + e^1.6) - 0 = 1.7839007,
    #   pair (1, 1): log(e^1.2 + e^1.6) - 1.2 = 0.9130153 (the other positive is not a negative)
    # image 2: every class positive, no negative: not counted
    expected = (1.0271231 + 1.7839007 + 0.9130153) / 3
    loss = MultiLabelContrastiveLoss()(images, text, labels, torch.tensor(2.0))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    loss.backward()
    assert images.grad[2].abs().sum() == 0 and images.grad[:2].abs().sum() > 0

    # the scale and loss weight; features are normalised inside
    weighted = MultiLabelContrastiveLoss(loss_weight=0.5)(images.detach() * 3, text * 2, labels,
                                                          torch.tensor(2.0))
    assert weighted.item() == pytest.approx(expected / 2, abs=1e-6)


def test_contrastive_loss_is_stable_at_clip_scale():
    # logit_scale 100 and cosines near 1: e^S overflows fp32 without logsumexp
    text = torch.eye(2)
    images = torch.tensor([[1.0, 0.0]])
    loss = MultiLabelContrastiveLoss()(images, text, torch.tensor([[0, 1]]), torch.tensor(100.0))
    # log(e^0 + e^100) - 0 = 100 + log(1 + e^-100)
    assert loss.item() == pytest.approx(100.0)


def test_contrastive_loss_without_counted_images_is_zero_with_a_graph():
    images = torch.randn(2, 4, requires_grad=True)
    text = torch.randn(3, 4)
    loss = MultiLabelContrastiveLoss()(images, text, torch.tensor([[1, 1, 1], [0, 0, 0]]),
                                       torch.tensor(10.0))
    assert loss.item() == 0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(images.grad, torch.zeros(2, 4))
    with pytest.raises(ValueError, match='labels'):
        MultiLabelContrastiveLoss()(images, text, torch.ones(2, 2), torch.tensor(1.0))


def test_sgd_on_contrastive_loss_lowers_it(clip, tokenizer):
    """A few SGD steps on the contexts, with fixed image features, lower the loss."""
    torch.manual_seed(1)
    learner = PromptLearner(clip, tokenizer, ['cat', 'dog', 'car', 'bus'], n_ctx=4)
    images = torch.randn(6, 32)
    labels = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0],
                           [0, 1, 1, 1], [1, 0, 1, 0]])
    loss_fn = MultiLabelContrastiveLoss()
    optimizer = torch.optim.SGD(learner.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(5):
        loss = loss_fn(images, learner(), labels, clip.logit_scale.exp())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(a > b for a, b in zip(losses, losses[1:])) and losses[-1] < 0.7 * losses[0]


# ---------------------------------------------------------------------------- CAM loss

SEED = torch.tensor([[1, 1, 0], [2, 255, 0]])
M1 = [[0.5, 2.0, 1.0], [-1.0, 3.0, -0.5]]
M2 = [[1.0, -2.0, 0.5], [-0.3, 4.0, 0.2]]


def test_cam_loss_by_hand():
    cams = torch.tensor([M1, M2], requires_grad=True)  # seed size: the upsampling is the identity
    # class 1: F = {0.5, 2.0}, peak 2 -> |2 - 0.5| + |2 - 2| = 1.5;
    #          B = seed 0 or 2 = {1.0, -1.0, -0.5} -> ReLU sum 1.0; |F| + |B| = 5
    # class 2: F = {-0.3}, peak max(-0.3, 0) = 0 -> |0 + 0.3| = 0.3;
    #          B = seed 0 or 1 = {1.0, -2.0, 0.5, 0.2} -> 1.7; |F| + |B| = 5
    # Z = 10: L_fg = 1.8 / 10, L_bg = 2.7 / 10
    loss = CAMActivationLoss()([cams], [[1, 2]], SEED[None])
    assert loss.item() == pytest.approx(0.45, abs=1e-6)
    weighted = CAMActivationLoss(fg_weight=2, bg_weight=0.5, loss_weight=3)(
        [cams], [[1, 2]], SEED[None])
    assert weighted.item() == pytest.approx(3 * (2 * 0.18 + 0.5 * 0.27), abs=1e-6)

    loss.backward()
    # d/dM, Z = 10. Class 1: F pixel 0.5 -> -sign(2 - 0.5) / 10 = -0.1; at F's argmax (2.0) the
    # target is a stop-gradient, so only |2 - M| itself counts, whose slope at 0 is 0 (without the
    # stop-gradient the path through the max would add +0.1 from the other F pixel);
    # B pixel 1.0 -> +0.1; negative B pixels and 255 -> 0.
    # Class 2: F pixel -0.3 -> -sign(0 + 0.3) / 10 = -0.1; positive B pixels -> +0.1.
    expected = torch.tensor([[[-0.1, 0.0, 0.1], [0.0, 0.0, 0.0]],
                             [[0.1, 0.0, 0.1], [-0.1, 0.0, 0.1]]])
    torch.testing.assert_close(cams.grad, expected)


def test_cam_loss_upsampling_empty_foreground_and_batching():
    # image 0: a 1x1 CAM of 0.7 upsampled to 2x2 is 0.7 everywhere; F = 1 pixel at its peak -> 0;
    #   B = 3 pixels -> 2.1. A CAM of class 3, absent from the seed: no fg term, B = all 4 pixels
    #   -> 4 * 0.2 = 0.8. Image 1: no CAMs. Z = (1 + 3) + (0 + 4) = 8.
    cams = [torch.tensor([[[0.7]], [[0.2]]], requires_grad=True), torch.zeros(0, 1, 1)]
    seeds = torch.tensor([[[1, 0], [0, 0]], [[2, 2], [255, 0]]])
    loss = CAMActivationLoss()(cams, [[1, 3], []], seeds)
    assert loss.item() == pytest.approx((2.1 + 0.8) / 8, abs=1e-6)


def test_cam_loss_without_pixels_is_zero_with_a_graph():
    cams = torch.randn(2, 3, 3, requires_grad=True)
    loss = CAMActivationLoss()([cams], [[1, 2]], torch.full((1, 6, 6), 255))
    assert loss.item() == 0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(cams.grad, torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match='class ids'):
        CAMActivationLoss()([cams], [[1]], torch.zeros(1, 3, 3, dtype=torch.long))


def test_cam_loss_reaches_the_contexts_only(clip, tokenizer):
    """Raw softmax-GradCAM with create_graph: the CAM loss back-propagates (double backprop)
    into the context vectors and into nothing of CLIP."""
    torch.manual_seed(2)
    learner = PromptLearner(clip, tokenizer, ['cat', 'dog', 'car'], ['', ''], n_ctx=4,
                            shared_context=False, class_token_position='front')
    out = CLIPDenseEncoder(clip.visual, num_attn_layers=0)(torch.randn(2, 3, 48, 64))
    labels = torch.tensor([[1, 0, 1], [0, 1, 0]])
    cams = softmax_gradcam(out.ln1, out.image_feature, learner(), labels, clip.logit_scale.exp(),
                           out.grid, raw=True, create_graph=True)
    seeds = torch.randint(0, 4, (2, 48, 64))
    seeds[:, :4] = 255
    class_ids = [(row.nonzero()[:, 0] + 1).tolist() for row in labels]
    CAMActivationLoss()(cams, class_ids, seeds).backward()
    assert learner.ctx.grad is not None and learner.ctx.grad[:3].abs().sum() > 0
    for name, param in clip.named_parameters():
        assert not param.requires_grad and param.grad is None, name


# ---------------------------------------------------------------------------- crop labels

def test_crop_labels():
    seed = torch.tensor([[0, 3, 3], [255, 1, 0]])
    assert crop_labels(seed, 4).tolist() == [1, 0, 1, 0]
    assert crop_labels(seed, 4).dtype == torch.uint8
    assert crop_labels(torch.tensor([[0, 255]]), 2).tolist() == [0, 0]
    with pytest.raises(ValueError, match='outside 0..2'):
        crop_labels(seed, 2)


def test_losses_are_registered():
    assert isinstance(MODELS.build(dict(type='MultiLabelContrastiveLoss', loss_weight=2.0)),
                      MultiLabelContrastiveLoss)
    loss = MODELS.build(dict(type='CAMActivationLoss', bg_weight=0.5))
    assert loss.bg_weight == 0.5 and loss.loss_name == 'loss_cam'
    assert math.isclose(MODELS.build(dict(type='MultiLabelContrastiveLoss')).loss_weight, 1.0)
