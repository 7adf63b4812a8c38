"""The open_clip adapter: checkpoint loading, dense image encoder, text encoder (tiny ViT)."""
import os
from pathlib import Path

import pytest
import torch

from wsss.models.clip import (
    CLIP_ES_TEMPLATE,
    CLIPDenseEncoder,
    TextEncoder,
    build_clip,
    build_tokenizer,
    encode_prompt_embeddings,
    format_prompts,
    interpolate_pos_embed,
)

# Widths are multiples of 64 because open_clip's OpenAI loader infers heads = width // 64.
TINY = dict(
    embed_dim=32, quick_gelu=True,
    vision_cfg=dict(image_size=48, patch_size=16, width=128, layers=3, head_width=64),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))


def tiny_clip(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_clip('tiny', pretrained=None, model_cfg=TINY)


def test_build_clip_is_frozen():
    model = tiny_clip()
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert model.visual.grid_size == (3, 3)


def test_missing_checkpoint_names_the_file_and_the_config_key(tmp_path):
    missing = str(tmp_path / 'ViT-B-16.pt')
    with pytest.raises(FileNotFoundError, match='ViT-B-16.pt') as err:
        build_clip('ViT-B-16', pretrained=missing)
    assert 'clip.pretrained' in str(err.value)
    with pytest.raises(FileNotFoundError, match='clip.pretrained'):
        build_clip('tiny', pretrained=missing, model_cfg=TINY)


def test_dense_encoder_non_square_input():
    encoder = CLIPDenseEncoder(tiny_clip().visual, num_attn_layers=2)
    out = encoder(torch.randn(2, 3, 48, 64))
    assert out.grid == (3, 4)
    assert out.patch_tokens.shape == (2, 12, 32)
    assert out.image_feature.shape == (2, 32)
    assert out.ln1.shape == (2, 12, 128)
    assert out.ln1.requires_grad and out.image_feature.grad_fn is not None
    assert [a.shape for a in out.attn] == [(2, 13, 13)] * 2
    torch.testing.assert_close(out.image_feature, out.patch_tokens.mean(dim=1))
    torch.testing.assert_close(out.attn[-1].sum(-1), torch.ones(2, 13))
    with pytest.raises(ValueError, match='multiple of the patch size'):
        encoder(torch.randn(1, 3, 40, 48))


def test_dense_encoder_matches_open_clip_at_native_size():
    """Patch tokens, ln1 and the last block's attention equal what open_clip's own forward
    computes: ln_post(tokens) @ proj and the last block's ln_1 / attention of its real input."""
    model = tiny_clip()
    visual = model.visual
    encoder = CLIPDenseEncoder(visual, num_attn_layers=3)
    torch.testing.assert_close(encoder.pos_embed((3, 3)), visual.positional_embedding, rtol=0,
                               atol=0)
    images = torch.randn(2, 3, 48, 48)
    captured = {}
    last = visual.transformer.resblocks[-1]
    hook = last.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    visual.output_tokens = True
    try:
        _, tokens = visual(images)
    finally:
        hook.remove()
        visual.output_tokens = False
    out = encoder(images)
    torch.testing.assert_close(out.patch_tokens, tokens @ visual.proj, atol=1e-5, rtol=1e-5)
    y = last.ln_1(captured['x'])
    torch.testing.assert_close(out.ln1, y[:, 1:], atol=1e-5, rtol=1e-5)
    _, weights = last.attn(y, y, y, need_weights=True, average_attn_weights=True)
    torch.testing.assert_close(out.attn[-1], weights, atol=1e-5, rtol=1e-5)
    assert len(out.attn) == 3


def test_dense_encoder_without_grad_and_bad_config():
    visual = tiny_clip().visual
    with torch.no_grad():
        out = CLIPDenseEncoder(visual, num_attn_layers=0)(torch.randn(1, 3, 32, 32))
    assert out.grid == (2, 2) and out.attn == [] and not out.ln1.requires_grad
    with pytest.raises(ValueError, match='num_attn_layers'):
        CLIPDenseEncoder(visual, num_attn_layers=4)


def test_interpolate_pos_embed_by_hand():
    rows = torch.tensor([0., 1., 2.])
    # a 3x3 grid whose embedding (width 2) depends only on the row: [row, 10 * row]
    patch = torch.stack([rows, 10 * rows], -1)[:, None].expand(3, 3, 2).reshape(9, 2)
    pos = torch.cat([torch.tensor([[7., 8.]]), patch])
    wider = interpolate_pos_embed(pos, (3, 3), (3, 4))
    assert wider.shape == (13, 2)
    torch.testing.assert_close(wider[0], torch.tensor([7., 8.]))
    torch.testing.assert_close(wider[1:, 0].reshape(3, 4), rows[:, None].expand(3, 4))
    # 3 -> 6 rows, align_corners=False: new row i samples old row i / 2 - 0.25, clamped at 0
    taller = interpolate_pos_embed(pos, (3, 3), (6, 3))[1:, 0].reshape(6, 3)[:, 0]
    torch.testing.assert_close(taller, torch.tensor([0., 0.25, 0.75, 1.25, 1.75, 2.]))
    # fp16 parity: values rounded to half precision
    fine = torch.cat([torch.tensor([[1 + 2 ** -12, 0.]]), patch])
    assert interpolate_pos_embed(fine, (3, 3), (3, 3), fp16=True)[0, 0] == 1.0


def save_both_formats(model: torch.nn.Module, tmp_path):
    """The same weights as an open_clip state dict and as an OpenAI one. OpenAI's files hold fp16
    weights plus three int entries, and open_clip's OpenAI loader builds the model in fp16
    before loading, so the weights are made fp16-exact first."""
    state = {k: v.half().float() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    open_clip_file, openai_file = tmp_path / 'open_clip.pt', tmp_path / 'openai.pt'
    torch.save(state, open_clip_file)
    openai_state = {k: v.half() for k, v in state.items()}
    # a ViT CLIP uses OpenAI's key names as they are; the entries below exist only in OpenAI's
    openai_state.update(input_resolution=torch.tensor(48), context_length=torch.tensor(77),
                        vocab_size=torch.tensor(49408))
    assert {'visual.conv1.weight', 'visual.transformer.resblocks.0.attn.in_proj_weight',
            'visual.proj', 'text_projection', 'positional_embedding',
            'token_embedding.weight', 'ln_final.weight', 'logit_scale'} <= set(openai_state)
    torch.save(openai_state, openai_file)
    return str(open_clip_file), str(openai_file)


def test_openai_and_open_clip_checkpoints_agree(tmp_path):
    open_clip_file, openai_file = save_both_formats(tiny_clip(seed=3), tmp_path)
    # 'auto': a local file for an OpenAI architecture name is read as OpenAI's format, whose
    # loader infers the (here tiny) architecture from the weights
    from_openai = build_clip('ViT-B-16', pretrained=openai_file)
    from_open_clip = build_clip('tiny', pretrained=open_clip_file, model_cfg=TINY)
    assert from_openai.visual.transformer.width == 128
    assert not any(p.requires_grad for p in from_openai.parameters())
    assert all(p.dtype == torch.float32 for p in from_openai.parameters())

    images = torch.randn(1, 3, 48, 64)
    a = CLIPDenseEncoder(from_openai.visual, num_attn_layers=2)(images)
    b = CLIPDenseEncoder(from_open_clip.visual, num_attn_layers=2)(images)
    torch.testing.assert_close(a.patch_tokens, b.patch_tokens)
    torch.testing.assert_close(a.ln1, b.ln1)
    for x, y in zip(a.attn, b.attn):
        torch.testing.assert_close(x, y)

    names = ['cat', 'person with clothes,people,human']
    ta = TextEncoder(from_openai, build_tokenizer('ViT-B-16')).encode_classes(names)
    tb = TextEncoder(from_open_clip, build_tokenizer('tiny', TINY)).encode_classes(names)
    torch.testing.assert_close(ta, tb)
    torch.testing.assert_close(from_openai.logit_scale, from_open_clip.logit_scale)


def test_text_encoder_prompts_and_cache():
    model = tiny_clip()
    encoder = TextEncoder(model, build_tokenizer('tiny', TINY))
    names = ['cat', 'person with clothes,people,human', 'ground']
    assert format_prompts(names[1:2], CLIP_ES_TEMPLATE) == [
        'a clean origami person with clothes,people,human.']
    emb = encoder.encode_classes(names)
    assert emb.shape == (3, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))
    # the synonym list is one prompt, embedded exactly as formatted
    torch.testing.assert_close(
        emb[1], encoder.encode_text(['a clean origami person with clothes,people,human.'])[0])
    assert encoder.encode_classes(list(names)) is emb  # cached
    assert encoder.encode_classes(names, 'a photo of a {}.') is not emb
    # several templates: normalised mean of the per-template embeddings
    two = encoder.encode_classes(names, ['a {}.', 'a photo of a {}.'])
    mean = (encoder.encode_classes(names, 'a {}.')
            + encoder.encode_classes(names, 'a photo of a {}.'))
    torch.testing.assert_close(two, torch.nn.functional.normalize(mean, dim=-1))


def test_encode_prompt_embeddings_equals_encode_text():
    """The learned-prompt path: token embeddings in, the same features as encode_text out, and
    gradients reach embeddings that require them."""
    model = tiny_clip()
    tokens = build_tokenizer('tiny', TINY)(['a clean origami cat.', 'a photo of a dog.'])
    embeddings = model.token_embedding(tokens).detach().requires_grad_()
    features = encode_prompt_embeddings(model, embeddings, tokens)
    torch.testing.assert_close(features, model.encode_text(tokens))
    features.sum().backward()
    assert embeddings.grad.abs().sum() > 0


def test_openai_tag_loads_openais_file_from_the_weights_dir(weights_dir):
    # named as OpenAI's release of ViT-B-16: used instead of an open_clip download (none here)
    source = tiny_clip(seed=5)
    _, openai_file = save_both_formats(source, Path(weights_dir))
    os.replace(openai_file, os.path.join(weights_dir, 'ViT-B-16.pt'))
    model = build_clip('ViT-B-16', pretrained='openai')
    assert model.visual.transformer.width == 128  # the tiny file's, not ViT-B-16's 768
    torch.testing.assert_close(model.visual.conv1.weight, source.visual.conv1.weight)
