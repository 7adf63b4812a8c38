"""CLIP-ES's sharpness-based prompt selection: score templates on labelled multi-label images."""
from typing import Callable, Dict, Iterable, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..clip import CLIP_ES_TEMPLATE, CLIPDenseEncoder, TextEncoder

# A dozen of CLIP's ImageNet templates, and CLIP-ES's choice.
DEFAULT_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.', 'a bad photo of a {}.', 'a photo of many {}.', 'a sculpture of a {}.',
    'a rendering of a {}.', 'graffiti of a {}.', 'a cropped photo of the {}.',
    'a tattoo of a {}.', 'a bright photo of a {}.', 'a drawing of a {}.', 'a origami {}.',
    'art of the {}.', CLIP_ES_TEMPLATE)


def dispersion(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) variance / mean of each row of ``probs`` (B, C) over its labelled entries
    (``labels`` (B, C) multi-hot); the population variance (divided by the count)."""
    labels = labels.to(probs.dtype)
    count = labels.sum(dim=1)
    mean = (probs * labels).sum(dim=1) / count
    var = ((probs - mean[:, None]) ** 2 * labels).sum(dim=1) / count
    return var / mean


@torch.no_grad()
def template_sharpness(model: nn.Module, text: Union[TextEncoder, Callable],
                       images: Iterable[Tuple[torch.Tensor, Sequence[int]]],
                       templates: Sequence[str], class_names: Sequence[str],
                       background_words: Sequence[str]) -> Dict[str, float]:
    """Sharpness of each template on the multi-label images of ``images``; lower is better.

    For an image with label set Y, |Y| >= 2 (images with fewer labels are skipped), and a
    template T: f = the mean of the projected patch tokens (:class:`CLIPDenseEncoder`, the
    feature the CAMs use); p = softmax over all C foreground classes and all background words,
    under T, of exp(logit_scale) * cos(f, t_k); sharpness = Var_{c in Y}(p_c) / Mean_{c in Y}(p_c),
    the population variance. A template's score is the mean over the images.

    Lower is better: every labelled class of a multi-label image needs its own CAM, and the
    softmax-GradCAM of a class is suppressed when another class takes the softmax mass. A template
    that spreads the mass evenly over the labelled classes (low dispersion) keeps all of them;
    a sharp one, however good for single-label zero-shot classification, lets one class dominate.

    Args:
        model: a frozen open_clip CLIP with a ViT image tower.
        text: a :class:`TextEncoder` of ``model``, or a tokenizer to build one.
        images: (CLIP-normalised image (3, H, W) with H, W multiples of the patch size,
            multi-hot labels over the C foreground classes) pairs.
        templates: format strings with one ``{}`` for the class name.
        class_names: the C foreground prompt names (synonyms comma-separated).
        background_words: the background vocabulary, always in the softmax.

    Returns:
        template -> mean sharpness, in the order of ``templates``.
    """
    bad = [t for t in templates if '{}' not in t]
    if bad:
        raise ValueError(f'templates need a {{}} for the class name: {bad}')
    text = text if isinstance(text, TextEncoder) else TextEncoder(model, text)
    encoder = CLIPDenseEncoder(model.visual, num_attn_layers=0)
    device = model.logit_scale.device
    num_classes = len(class_names)
    features, label_rows = [], []
    for image, labels in images:
        labels = torch.as_tensor(labels).bool().cpu()
        if labels.shape != (num_classes,):
            raise ValueError(f'labels must be multi-hot over the {num_classes} classes, got '
                             f'shape {tuple(labels.shape)}')
        if labels.sum() < 2:
            continue
        features.append(encoder(image[None].to(device)).image_feature[0].float())
        label_rows.append(labels)
    if not features:
        raise ValueError('no image with at least two labelled classes: sharpness is measured '
                         'on multi-label images')
    features = F.normalize(torch.stack(features), dim=-1)
    labels = torch.stack(label_rows).to(device)
    scale = model.logit_scale.exp().float()
    names = [*class_names, *background_words]
    scores = {}
    for template in templates:
        probs = (scale * features @ text.encode_classes(names, template).t()).softmax(dim=-1)
        scores[template] = dispersion(probs[:, :num_classes], labels).mean().item()
    return scores
