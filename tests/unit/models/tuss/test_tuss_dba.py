"""DBA-CLIP dense features (docs/tuss.md §3, tests T1-T5) on a tiny random ViT."""
import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import TWO_BLOCK_CLIP

from wsss.models.clip import (
    CLIPDenseEncoder,
    DBAFeatureExtractor,
    build_clip,
    dba_attention,
    dba_block,
    dba_dense_features,
    interpolate_pos_embed,
    mask_bias,
    pool_mask_embeddings,
    tuss_input_size,
    window_boxes,
    window_counts,
)


@pytest.fixture(scope='module')
def encoder() -> CLIPDenseEncoder:
    torch.manual_seed(0)
    model = build_clip('tiny', pretrained=None, model_cfg=TWO_BLOCK_CLIP).double()
    return CLIPDenseEncoder(model.visual, num_attn_layers=0)


def test_t1_mask_bias():
    m1 = torch.tensor([[1, 1], [0, 0]])  # p0, p1
    m2 = torch.tensor([[0, 1], [0, 1]])  # p1, p3; p2 in no mask
    bias = mask_bias(torch.stack([m1, m2])[None].bool(), (2, 2))[0]
    expected = torch.tensor([[0, 0, 0, 0, 0], [0, 0, 0, -4, -4], [0, 0, 0, -4, 0],
                             [0, -4, -4, -4, -4], [0, -4, 0, -4, 0]], dtype=torch.float32)
    torch.testing.assert_close(bias, expected)
    # masks at 3x3 are downsampled with legacy 'nearest' (rows and columns 0, 1), not
    # 'nearest-exact' (0, 2), which reads [[1, 0], [1, 1]] and [[0, 1], [1, 0]] here
    big = torch.tensor([[[1, 1, 0], [0, 0, 1], [1, 0, 1]],
                        [[0, 1, 1], [0, 1, 0], [1, 1, 0]]])[None]
    torch.testing.assert_close(mask_bias(big.bool(), (2, 2))[0], expected)
    # no mask at all: every patch pair -4, CLS row and column 0
    empty = mask_bias(torch.zeros(1, 0, 4, 4, dtype=torch.bool), (2, 2))[0]
    assert (empty[1:, 1:] == -4).all() and (empty[0] == 0).all() and (empty[:, 0] == 0).all()


def test_t2_qq_kk_attention_with_bias():
    q = torch.tensor([1., 0., 2.], dtype=torch.float64).view(1, 1, 3, 1)
    k = torch.tensor([0., 1., -1.], dtype=torch.float64).view(1, 1, 3, 1)
    v = torch.tensor([1., 2., 3.], dtype=torch.float64).view(1, 1, 3, 1)
    bias = torch.tensor([[0., 0, 0], [0, 0, -4], [0, -4, 0]], dtype=torch.float64)
    out, weights = dba_attention(q, k, v, bias)
    a_q = torch.tensor([[.2447, .0900, .6652], [.4955, .4955, .0091], [.1192, .0003, .8805]])
    a_k = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [.2685, .7297, .0018], [.2685, .0018, .7297]])
    torch.testing.assert_close(weights[0, 0].float(), a_q + a_k, atol=2e-4, rtol=0)
    torch.testing.assert_close(out.flatten().float(), torch.tensor([4.4205, 3.2470, 5.2227]),
                               atol=2e-4, rtol=0)
    out, _ = dba_attention(q, k, v, bias, norm_att=True)
    torch.testing.assert_close(out.flatten().float(), torch.tensor([2.2103, 1.6235, 2.6113]),
                               atol=2e-4, rtol=0)
    with pytest.raises(ValueError, match='attention must be one of'):
        dba_attention(q, k, v, bias, attention='vv')


class Zero(torch.nn.Module):
    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)


def explicit_dba(block, x, bias, norm_att, weights):
    """The DBA block written head by head with plain matrix products (float64)."""
    attn = block.attn
    width, heads = x.shape[-1], attn.num_heads
    hd = width // heads
    y = F.layer_norm(x, (width,), block.ln_1.weight, block.ln_1.bias, block.ln_1.eps)
    qkv = y @ attn.in_proj_weight.t() + attn.in_proj_bias
    q, k, v = qkv[:, :width], qkv[:, width:2 * width], qkv[:, 2 * width:]
    outs = []
    for h in range(heads):
        sl = slice(h * hd, (h + 1) * hd)
        qh, kh, vh = q[:, sl], k[:, sl], v[:, sl]
        a_q = torch.softmax(qh @ qh.t() / hd ** 0.5 + bias, dim=-1)
        a_k = torch.softmax(kh @ kh.t() / hd ** 0.5 + bias, dim=-1)
        a = (a_q + a_k) / (2 if norm_att else 1)
        outs.append(a @ vh)
    o = torch.cat(outs, dim=-1) @ attn.out_proj.weight.t() + attn.out_proj.bias
    x = weights[0] * x + weights[1] * o
    return x + block.mlp(block.ln_2(x))


@pytest.mark.parametrize('norm_att,weights', [(False, (1., 1.)), (True, (1., 2.))])
def test_dba_block_matches_per_head_computation(encoder, norm_att, weights):
    block = encoder.visual.transformer.resblocks[-1]
    torch.manual_seed(1)
    x = torch.randn(1, 5, 64, dtype=torch.float64)
    masks = torch.tensor([[[1, 1], [0, 0]], [[0, 1], [0, 1]]]).bool()[None]
    bias = mask_bias(masks, (2, 2)).double()
    got = dba_block(block, x, bias, norm_att, weights)
    torch.testing.assert_close(got[0], explicit_dba(block, x[0], bias[0], norm_att, weights))


def test_t3_voc_and_coco_variants_differ_by_the_out_projection_bias(encoder):
    block = copy.deepcopy(encoder.visual.transformer.resblocks[-1])
    block.mlp = Zero()  # T3 compares the attention residuals: the FFN adds 0 here
    torch.manual_seed(2)
    x = torch.randn(2, 5, 64, dtype=torch.float64)
    coco = dba_block(block, x, None, norm_att=True, residual_weights=(1., 2.))
    voc = dba_block(block, x, None, norm_att=False, residual_weights=(1., 1.))
    torch.testing.assert_close(coco - voc, block.attn.out_proj.bias.expand_as(x))


def test_bias_changes_attention_only_between_patches_sharing_no_mask():
    torch.manual_seed(3)
    q, k, v = (torch.randn(1, 2, 5, 4, dtype=torch.float64) for _ in range(3))
    masks = torch.tensor([[[1, 1], [0, 0]], [[0, 1], [0, 1]]]).bool()[None]
    bias = mask_bias(masks, (2, 2)).double()
    _, plain = dba_attention(q, k, v, None, attention='qk')
    _, biased = dba_attention(q, k, v, bias, attention='qk')
    # each row is rescaled: pairs that share a mask (and the CLS column) by one factor, pairs
    # that share none by that factor times e^-4
    ratio = biased / plain
    torch.testing.assert_close(ratio, (ratio[..., :1] * torch.exp(bias)).expand_as(ratio))
    # q-q and k-k halves separately: the same rescaling, in both
    for t in (q, k):
        plain = torch.softmax(t @ t.transpose(-2, -1) / 2, dim=-1)
        _, both = dba_attention(t, t, v, bias, norm_att=True)
        ratio = both / plain
        torch.testing.assert_close(ratio, (ratio[..., :1] * torch.exp(bias)).expand_as(ratio))


def test_zero_bias_and_original_attention_give_the_plain_dense_encoder(encoder):
    torch.manual_seed(4)
    images = torch.randn(2, 3, 48, 64, dtype=torch.float64)
    plain = encoder(images).patch_tokens  # (B, hw, D), bilinear positional embedding
    zero = torch.zeros(2, 13, 13, dtype=torch.float64)
    dba = dba_dense_features(encoder, images, zero, attention='qk', pos_embed_mode='bilinear')
    assert dba.shape == (2, 32, 3, 4)
    torch.testing.assert_close(dba.flatten(2).transpose(1, 2), plain)
    # the DBA attention itself is something else
    other = dba_dense_features(encoder, images, zero, pos_embed_mode='bilinear')
    assert not torch.allclose(other, dba)


def test_t4_resize_and_windows():
    assert tuss_input_size(375, 500) == (448, 608)
    assert tuss_input_size(500, 375) == (608, 448)
    assert tuss_input_size(448, 448) == (448, 448)
    H, W = 448, 608
    assert 1 + (H // 16) * (W // 16) == 1065
    boxes = window_boxes(H, W)
    assert len(boxes) == 40
    assert sorted({b[2] for b in boxes}) == [0, 56, 112, 168, 224, 280, 336, 384]
    assert sorted({b[0] for b in boxes}) == [0, 56, 112, 168, 224]
    assert all(y2 - y1 == 224 and x2 - x1 == 224 for y1, y2, x1, x2 in boxes)
    count = window_counts(H, W)
    assert count[0, 0] == 1 and count[0, 60] == 2 and count[224, 304] == 16
    assert count[447, 607] == 1 and count.max() == 20 and count.min() == 1
    assert len(window_boxes(448, 448)) == 25
    assert window_boxes(224, 224) == [(0, 224, 0, 224)]
    pos = torch.randn(1 + 14 * 14, 8)
    assert interpolate_pos_embed(pos, (14, 14), (14, 14), mode='bicubic') is pos


def test_t5_bilinear_pooling():
    a, b = 2.0, 6.0
    features = torch.tensor([[[a, b]]], dtype=torch.float64)  # (D=1, 1, 2)
    right = torch.tensor([[[0, 0, 1, 1]]], dtype=torch.bool)
    left = torch.tensor([[[1, 0, 0, 0]]], dtype=torch.bool)
    pooled = pool_mask_embeddings(features, torch.cat([right, left]))
    torch.testing.assert_close(pooled[:, 0], torch.tensor([.125 * a + .875 * b, a],
                                                          dtype=torch.float64))
    constant = torch.full((3, 2, 3), 1.5, dtype=torch.float64)
    masks = torch.rand(4, 5, 7) > 0.5
    masks[:, 0, 0] = True
    torch.testing.assert_close(pool_mask_embeddings(constant, masks),
                               torch.full((4, 3), 1.5, dtype=torch.float64))
    with pytest.raises(ValueError, match='empty SAM masks'):
        pool_mask_embeddings(constant, torch.zeros(1, 5, 7, dtype=torch.bool))


def test_sliding_window_features(encoder):
    """One 224 window: local = global (same masks, same grid), so the mix is that pass; with
    two windows the overlap is their average."""
    torch.manual_seed(5)
    image = torch.randn(1, 3, 224, 224, dtype=torch.float64)
    masks = torch.zeros(2, 112, 112, dtype=torch.bool)  # original size: half the resized one
    masks[0, :60, :50] = True
    masks[1, 40:, 30:] = True
    extractor = DBAFeatureExtractor(encoder, window_batch=3)
    features = extractor(image, masks)
    resized = F.interpolate(masks[None].to(torch.uint8), size=(224, 224), mode='nearest-exact')
    single = extractor.encode(image, resized)
    expected = F.interpolate(single, size=(224, 224), mode='bilinear', align_corners=False)[0]
    torch.testing.assert_close(features, expected)
    # 224x336: three windows at x = 0, 56, 112; the local part is their per-pixel average
    image = torch.randn(1, 3, 224, 336, dtype=torch.float64)
    masks = torch.zeros(1, 224, 336, dtype=torch.bool)
    masks[0, :, :100] = True
    local_only = DBAFeatureExtractor(encoder, global_weight=0., window_batch=2)(image, masks)
    crops = [F.interpolate(extractor.encode(image[..., x:x + 224], masks[None, :, :, x:x + 224]),
                           size=(224, 224), mode='bilinear', align_corners=False)[0]
             for x in (0, 56, 112)]
    torch.testing.assert_close(local_only[:, :, :56], crops[0][:, :, :56])
    torch.testing.assert_close(local_only[:, :, 112:168],
                               (crops[0][:, :, 112:168] + crops[1][:, :, 56:112]
                                + crops[2][:, :, :56]) / 3)
