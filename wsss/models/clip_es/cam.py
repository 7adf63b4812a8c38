"""CLIP-ES CAMs: softmax-GradCAM on the last block's ln_1 output, CAA refinement, seeds.

Shapes: B images, C foreground classes, NB background words (or prompts), K labelled classes of
one image, (h, w) the patch grid, D the joint embedding size, width the ViT width.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = Union[torch.Tensor, np.ndarray]


# what the GradCAM differentiates: the exact softmax over each image's labelled classes and
# the background, or FMA-WSSS's released masked softmax (:func:`released_masked_softmax`)
GRADCAM_TARGETS = ('softmax', 'masked_softmax')


def normalize_cam(cam: torch.Tensor, passes: int = 1) -> torch.Tensor:
    """Min-max normalise each map over its last two dims, ``passes`` times:
    (x - min) / (max - min + 1e-7)."""
    flat = cam.flatten(-2)
    for _ in range(passes):
        low = flat.min(dim=-1, keepdim=True).values
        high = flat.max(dim=-1, keepdim=True).values
        flat = (flat - low) / (high - low + 1e-7)
    return flat.view_as(cam)


def released_masked_softmax(logits: torch.Tensor, mask: torch.Tensor,
                            epsilon: float = 1e-5) -> torch.Tensor:
    """FMA-WSSS's released GradCAM target (alchemy_cat's ``MaskedSoftmax(epsilon=1e-5)``):
    exp(y - max y) * mask / (sum of that + epsilon), the max taken over ALL logits of a row,
    masked ones included, and not detached.

    It equals the softmax over ``mask`` up to epsilon while a masked-in logit is near the top;
    when a masked-out class beats all of them by ~9 logits or more (masked sum below ~1e-4),
    epsilon shrinks the scores and the max passes a gradient to that masked-out logit.
    """
    top = logits.max(dim=-1, keepdim=True).values
    kept = (logits - top).exp() * mask.to(logits.dtype)
    return kept / (kept.sum(dim=-1, keepdim=True) + epsilon)


def class_scores(image_feature: torch.Tensor, text_feats: torch.Tensor, labels: torch.Tensor,
                 logit_scale: torch.Tensor, target: str = 'softmax') -> torch.Tensor:
    """(B, C + NB) softmax of logit_scale * cos(image, text) over each image's labelled
    foreground classes and all background rows; the absent foreground classes get 0.

    ``text_feats``: (C + NB, D), the C foreground classes first, then the background words.
    ``labels``: (B, C) multi-hot over the foreground classes.
    ``target``: 'softmax' (exact) or 'masked_softmax' (:func:`released_masked_softmax`).
    """
    if target not in GRADCAM_TARGETS:
        raise ValueError(f'GradCAM target must be one of {GRADCAM_TARGETS}, got {target!r}')
    B, C = labels.shape
    logits = logit_scale * F.normalize(image_feature, dim=-1) @ F.normalize(text_feats, dim=-1).t()
    in_softmax = torch.cat([labels.bool(), labels.new_ones(B, text_feats.shape[0] - C).bool()], 1)
    if target == 'masked_softmax':
        return released_masked_softmax(logits, in_softmax)
    return logits.masked_fill(~in_softmax, float('-inf')).softmax(dim=-1)


def _finish(cam: torch.Tensor, grid: Tuple[int, int], raw: bool,
            norm_passes: int) -> torch.Tensor:
    cam = cam.unflatten(-1, grid)
    return cam if raw else normalize_cam(cam.relu(), norm_passes)


def _check(ln1: torch.Tensor, labels: torch.Tensor, text_feats: torch.Tensor) -> None:
    if not ln1.requires_grad:
        raise ValueError('ln1 has no autograd graph: run the dense encoder with gradients enabled')
    if labels.shape[1] > text_feats.shape[0]:
        raise ValueError(f'labels cover {labels.shape[1]} classes but there are only '
                         f'{text_feats.shape[0]} text embeddings')


def softmax_gradcam(ln1: torch.Tensor, image_feature: torch.Tensor, text_feats: torch.Tensor,
                    labels: torch.Tensor, logit_scale: torch.Tensor, grid: Tuple[int, int],
                    raw: bool = False, create_graph: bool = False,
                    retain_graph: Optional[bool] = None, norm_passes: int = 1,
                    target: str = 'softmax') -> List[torch.Tensor]:
    """Softmax-GradCAM of every labelled class of every image, one backward per class slot.

    For image b and labelled class c: s = :func:`class_scores`; w_c = mean over the patches of
    ds_c/dA with A = ``ln1[b]`` (h*w, width); CAM_c = ReLU(A w_c) on the patch grid, min-max
    normalised (``norm_passes`` times). The softmax couples the classes, which suppresses
    confusion with the other labelled classes and with the background words.

    Backward k differentiates the k-th labelled class of every image of the batch at once (an
    image's scores depend on its own ``ln1`` rows only), so a batch of B images with at most K
    labels each takes K backward passes through the last block, not one per (image, class).
    Plain passes rather than one ``is_grads_batched`` (vmapped) pass: on a CPU the vmapped pass
    was no faster and took twice the working memory (README: Performance, cam_seeds.py).

    Args:
        ln1: (B, h*w, width) ``DenseOutput.ln1``, with its graph to ``image_feature``.
        image_feature: (B, D) ``DenseOutput.image_feature``.
        text_feats: (C + NB, D) foreground classes first, then background; normalised here.
        labels: (B, C) multi-hot image-level labels over the foreground classes.
        logit_scale: ``model.logit_scale.exp()``.
        grid: the patch grid (h, w).
        raw: return A w_c without ReLU and normalisation (FMA-WSSS's training CAM).
        create_graph: keep the graph of the gradients (double backprop into ``text_feats``);
            the activations A are always detached.
        retain_graph: keep the graph after the last backward (default: ``create_graph``).
        norm_passes: min-max normalisations of the ReLU'd CAM. CLIP-ES's released code does 2
            (its bundled pytorch_grad_cam: ``scale_cam_image`` per target layer, then again after
            the mean over the target layers); the second pass differs from the first by ~1e-7 / M
            relative, M the raw maximum, which decides whether a class whose softmax share
            vanishes (M below ~4e-10) keeps a uint8 box in CAA or drops out (README, Fidelity).
        target: the scores differentiated, 'softmax' or 'masked_softmax' (:func:`class_scores`).

    Returns:
        B float32 tensors (K_b, h, w): the CAMs of image b's labelled classes in ascending class
        order.
    """
    _check(ln1, labels, text_feats)
    labels = labels.bool()
    counts = labels.sum(dim=1)
    sizes = counts.tolist()  # one wait for a GPU; slicing by counts[b] would wait per image
    K = max(sizes, default=0)
    if K == 0:
        return [ln1.new_zeros(0, *grid, dtype=torch.float32) for _ in range(len(labels))]
    probs = class_scores(image_feature, text_feats, labels, logit_scale, target)
    # slot k of image b: its k-th labelled class; the slots past its count get weight 0
    classes = torch.argsort((~labels).int(), dim=1, stable=True)[:, :K]
    valid = torch.arange(K, device=labels.device) < counts[:, None]  # (B, K)
    picked = probs.gather(1, classes)  # (B, K)
    last = create_graph if retain_graph is None else retain_graph
    weights = []
    for k in range(K):
        grad, = torch.autograd.grad(picked[:, k], ln1, grad_outputs=valid[:, k].to(picked.dtype),
                                    retain_graph=k < K - 1 or last, create_graph=create_graph)
        weights.append(grad.float().mean(dim=1))
    cams = torch.einsum('kbd,bnd->bkn', torch.stack(weights), ln1.detach().float())
    cams = _finish(cams, grid, raw, norm_passes)
    return [cams[b, :n] for b, n in enumerate(sizes)]


def gradcam_per_class_loop(ln1: torch.Tensor, image_feature: torch.Tensor,
                           text_feats: torch.Tensor, labels: torch.Tensor,
                           logit_scale: torch.Tensor, grid: Tuple[int, int],
                           raw: bool = False, norm_passes: int = 1,
                           target: str = 'softmax',
                           classes: Optional[Sequence[int]] = None) -> List[torch.Tensor]:
    """:func:`softmax_gradcam` with one backward per (image, class): the plain baseline, for
    benchmarks and equality tests. Same arguments and result; ``classes`` (0-based foreground
    indices) keeps only the labelled classes among them, each still scored by the softmax over
    all the labelled ones (tools/benchmark/cam_seeds.py: a forward per class); None: all."""
    _check(ln1, labels, text_feats)
    labels = labels.bool()
    probs = class_scores(image_feature, text_feats, labels, logit_scale, target)
    out = []
    for b, row in enumerate(labels):
        cams = []
        for c in row.nonzero()[:, 0].tolist():
            if classes is not None and c not in classes:
                continue
            grad, = torch.autograd.grad(probs[b, c], ln1, retain_graph=True)
            cams.append(ln1[b].detach() @ grad[b].mean(dim=0))
        out.append(_finish(torch.stack(cams), grid, raw, norm_passes) if cams
                   else ln1.new_zeros(0, *grid))
    return out


def attention_affinity(attn: Sequence[torch.Tensor], sinkhorn_iters: int = 3,
                       power: int = 2) -> torch.Tensor:
    """CAA's class-agnostic affinity A'' (…, h*w, h*w) from attention weights.

    ``attn``: the blocks to use, each (..., 1 + h*w, 1 + h*w) and averaged over heads (e.g. the
    last 8 of ``DenseOutput.attn``). Their mean without the CLS row and column is A; Sinkhorn
    normalisation (each round divides by the column sums, then by the row sums) gives D;
    A' = (D + D^T) / 2; A'' = A'^power.
    """
    aff = torch.stack([a.float() for a in attn]).mean(dim=0)[..., 1:, 1:]
    for _ in range(sinkhorn_iters):
        aff = aff / aff.sum(dim=-2, keepdim=True)
        aff = aff / aff.sum(dim=-1, keepdim=True)
    aff = (aff + aff.transpose(-1, -2)) / 2
    return torch.linalg.matrix_power(aff, power)


def box_mask(cam: ArrayLike, threshold: float, released: bool = False) -> torch.Tensor:
    """(h, w) float mask, 1 inside the bounding rectangle of any external contour of the
    thresholded ``cam`` (min-max normalised); no contour gives an empty mask.

    ``released`` applies the box rule of the authors' released code (CLIP-ES's
    ``scoremap2bbox``, which FMA-WSSS reuses): the map is quantised to uint8 (x * 255, truncated),
    thresholded strictly at ``int(threshold * its uint8 max)``, and each rectangle's far corner is
    clipped to (w - 1, h - 1) and used as an exclusive end, so the last row and column of the map
    are never inside a box. Otherwise (the clean rule): ``cam > threshold`` and whole rectangles.
    """
    import cv2  # only here: the rest of the module is torch-only (device_kit/)
    cam = torch.as_tensor(cam).detach().float().cpu()
    if released:
        quantised = (cam.numpy() * 255).astype(np.uint8)
        binary = (quantised > int(threshold * quantised.max())).astype(np.uint8)
    else:
        binary = (cam > threshold).numpy().astype(np.uint8)
    contours = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
    height, width = binary.shape
    mask = torch.zeros(height, width)
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        x1, y1 = x + w, y + h
        if released:
            x1, y1 = min(x1, width - 1), min(y1, height - 1)
        mask[y:y1, x:x1] = 1
    return mask


def refine_with_affinity(cams: torch.Tensor, affinity: torch.Tensor, masks: torch.Tensor,
                         normalize: bool = True) -> torch.Tensor:
    """vec(M_c) <- (A'' * B_c) vec(M_c), then min-max normalised (unless ``normalize`` is False).

    ``cams`` and ``masks``: (K, h, w); ``affinity``: (h*w, h*w). As in CLIP-ES
    (``trans_mat * box_mask`` with a (1, h*w) mask), B_c zeroes the COLUMNS of A'' outside the
    boxes: only patches inside a box propagate their scores.
    """
    flat = cams.flatten(1).float()
    refined = torch.einsum('ij,kj->ki', affinity, flat * masks.flatten(1).to(flat))
    refined = refined.view_as(cams)
    return normalize_cam(refined) if normalize else refined


def caa_refine(cams: torch.Tensor, affinity: torch.Tensor, threshold: float,
               released_boxes: bool = False, raw: bool = False) -> torch.Tensor:
    """CAA: each CAM (K, h, w) refined by the affinity inside its own boxes (:func:`box_mask` at
    ``threshold``: 0.4 VOC, 0.7 COCO for CLIP-ES).

    ``raw=False``: ``cams`` are normalised CAMs in [0, 1]; the refined maps are min-max normalised.
    ``raw=True``: ``cams`` are raw GradCAMs (no ReLU, not normalised), as FMA-WSSS's released
    segmentation stage refines them: the boxes come from their ReLU'd, min-max normalised copy,
    the raw maps are refined and returned as they are (no ReLU, no normalisation).
    """
    if len(cams) == 0:
        return cams.float()
    scores = normalize_cam(cams.relu()) if raw else cams
    masks = torch.stack([box_mask(score, threshold, released_boxes) for score in scores])
    return refine_with_affinity(cams, affinity, masks.to(cams.device), normalize=not raw)


def resize_cams(cams: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=False) resize of (..., h, w) maps to ``size`` (H, W)."""
    lead = cams.shape[:-2]
    if cams.numel() == 0:  # an image without labels has no CAMs
        return cams.new_zeros(*lead, *size, dtype=torch.float32)
    out = F.interpolate(cams.reshape(1, -1, *cams.shape[-2:]).float(), size=tuple(size),
                        mode='bilinear', align_corners=False)
    return out.reshape(*lead, *size)


def cams_to_seed(cams: ArrayLike, class_ids: Sequence[int],
                 bg_power: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Seed and confidence from (K, H, W) CAMs in [0, 1] of the classes ``class_ids`` (1..C).

    Background score (1 - max_c M_c)^bg_power; seed = argmax over [background, M_1..M_K] mapped
    to class ids (0 = background); confidence = that maximum. No CAMs: all background.
    """
    cams = torch.as_tensor(cams).detach().float().cpu()
    if len(cams) != len(class_ids):
        raise ValueError(f'{len(cams)} CAMs for {len(class_ids)} class ids')
    if cams.ndim != 3:
        raise ValueError(f'cams must be (K, H, W), got {tuple(cams.shape)}')
    top = cams.max(dim=0).values if len(cams) else torch.zeros(cams.shape[1:])
    scores = torch.cat([(1 - top).clamp(min=0).pow(bg_power)[None], cams])
    confidence, index = scores.max(dim=0)
    ids = torch.tensor([0, *map(int, class_ids)], dtype=torch.uint8)
    return ids[index].numpy(), confidence.numpy()
