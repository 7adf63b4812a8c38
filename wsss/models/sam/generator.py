"""SAM automatic mask generation with FMA-WSSS's level-aware filters (Yang & Gong, WACV 2024).

SAM answers a point prompt with three masks (``multimask_output=True``: the mask decoder returns
the outputs of its mask tokens 1..3 and drops token 0, the single-mask answer). The decoder gives
them no names; SAM was trained so that they cover the whole / part / sub-part ambiguity of a click,
the first output tending to the smallest, and FMA-WSSS reads the output index as the mask's
*level*, which this module keeps:

    level 0 = sub-part, level 1 = part, level 2 = whole.

:class:`LevelAwareMaskGenerator` is segment-anything's ``SamAutomaticMaskGenerator`` (same grids,
crops, filters and NMS, through its own functions) with three level-aware changes, all knobs:

- a per-level offset added to the predicted IoU before the ``pred_iou_thresh`` test, i.e. the
  threshold lowered by the offset (FMA: (0, 0, 0.1), whole masks pass at IoU > 0.76);
- a per-level offset added to the score the in-crop box NMS ranks by (FMA: (0, 0, 1.0), so whole
  masks win the NMS);
- the rock-sand-water filter (:func:`rock_sand_water_keep`), after the small-region clean-up.

With offsets (0, 0, 0) and the filter off it returns exactly the stock generator's masks (in
``'coco_rle'`` output mode), only faster: masks the predicted IoU rejects are never upscaled,
masks stay dense (bool, crop-sized until a crop's NMS is done) on the device instead of being
run-length encoded per batch and decoded again for the clean-up, and the survivors are encoded
once, by pycocotools.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from pycocotools import mask as mask_utils
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam
from segment_anything.utils.amg import (
    MaskData,
    batched_mask_to_box,
    calculate_stability_score,
    generate_crop_boxes,
    is_box_near_crop_edge,
    remove_small_regions,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from segment_anything.utils.transforms import ResizeLongestSide
from torchvision.ops.boxes import batched_nms, box_area

LEVEL_NAMES = ('sub-part', 'part', 'whole')
DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16}


def level_scores(iou_preds: torch.Tensor, levels: torch.Tensor,
                 offsets: Sequence[float]) -> torch.Tensor:
    """Each mask's predicted IoU plus the offset of its level (``offsets[level]``). Built from
    Python numbers: a table of offsets on a GPU would be a copy that waits for the device."""
    scores = iou_preds
    for level, offset in enumerate(offsets):
        if offset:
            scores = torch.where(levels == level, iou_preds + offset, scores)
    return scores


def rock_sand_water_keep(masks: torch.Tensor, levels: torch.Tensor,
                         thresh: float) -> torch.Tensor:
    """Which masks the rock-sand-water filter keeps: a bool per mask of ``masks`` (N, H, W).

    The levels present are visited from the highest (whole) down. All masks of the first one are
    kept. A mask m of a later level is kept only if its largest recall |m ∩ k| / |m| against the
    *kept* masks k, i.e. those of higher levels that this filter kept, is below ``thresh``; the
    masks of one level are judged together, never against each other. A part that lies mostly
    inside a kept whole goes; a part of a region that no kept whole covers stays. An empty mask
    of a later level (recall 0/0) goes. Intersections are float32 matrix products of 0/1 values:
    exact up to 2^24 pixels.
    """
    keep = torch.zeros(len(masks), dtype=torch.bool, device=masks.device)
    flat = masks.flatten(1)
    for level in levels.unique(sorted=True).flip(0).tolist():
        candidates = (levels == level).nonzero()[:, 0]
        kept = keep.nonzero()[:, 0]
        if len(kept) == 0:
            keep[candidates] = True
            continue
        m = flat[candidates].float()
        recall = (m @ flat[kept].float().T) / m.sum(1, keepdim=True)
        keep[candidates] = recall.amax(1) < thresh
    return keep


def _keep(data: MaskData, keep: torch.Tensor) -> None:
    """``data.filter(keep)`` for a bool ``keep``, by its indices: on a GPU one wait for the device
    instead of one per field (each bool index is a ``nonzero``)."""
    data.filter(keep.nonzero()[:, 0])


def _cat(parts: List[MaskData]) -> MaskData:
    """Concatenate MaskData of tensors in one go (MaskData.cat deep-copies its first part)."""
    return MaskData(**{k: torch.cat([p[k] for p in parts]) for k, _ in parts[0].items()})


class LevelAwareMaskGenerator(SamAutomaticMaskGenerator):
    """SAM automatic masks at FMA-WSSS's settings, with its level-aware changes.

    The defaults are FMA-WSSS's: segment-anything's "heavy" settings (32 points a side, one crop
    layer, IoU 0.86, stability 0.92, small regions below 100 pixels removed), threshold offsets
    (0, 0, 0.1), NMS offsets (0, 0, 1.0) and the rock-sand-water filter at recall 0.3. Pass
    offsets (0, 0, 0) and ``rock_sand_water_thresh=None`` for segment-anything's own behaviour.

    Args:
        model: a SAM (see :func:`wsss.models.sam.build_sam`).
        score_thresh_offset: per level, added to the predicted IoU for the ``pred_iou_thresh`` test.
        score_nms_offset: per level, added to the predicted IoU that the in-crop box NMS ranks by.
        rock_sand_water_thresh: recall threshold of :func:`rock_sand_water_keep`; None: no filter.
        points_per_batch: point prompts per decoder call (the masks do not depend on it; on a
            GPU their scores may round differently, as other shapes take other kernels).
        crop_batch: crops per image-encoder call (FMA's five crops at once by default).
        dtype: 'float32' (the released code's), or 'bfloat16': the image encoder and the mask
            decoder are cast once (this changes ``model``), their outputs are cast back to
            float32 (README: Performance gives the masks' agreement with float32).
        Other arguments: as ``SamAutomaticMaskGenerator``'s.
    """

    def __init__(self, model: Sam, points_per_side: Optional[int] = 32,
                 points_per_batch: int = 256, pred_iou_thresh: float = 0.86,
                 stability_score_thresh: float = 0.92, stability_score_offset: float = 1.0,
                 box_nms_thresh: float = 0.7, crop_n_layers: int = 1,
                 crop_nms_thresh: float = 0.7, crop_overlap_ratio: float = 512 / 1500,
                 crop_n_points_downscale_factor: int = 2,
                 point_grids: Optional[List[np.ndarray]] = None, min_mask_region_area: int = 100,
                 score_thresh_offset: Sequence[float] = (0.0, 0.0, 0.1),
                 score_nms_offset: Sequence[float] = (0.0, 0.0, 1.0),
                 rock_sand_water_thresh: Optional[float] = 0.3, crop_batch: int = 5,
                 dtype: str = 'float32') -> None:
        super().__init__(
            model, points_per_side=points_per_side, points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset, box_nms_thresh=box_nms_thresh,
            crop_n_layers=crop_n_layers, crop_nms_thresh=crop_nms_thresh,
            crop_overlap_ratio=crop_overlap_ratio,
            crop_n_points_downscale_factor=crop_n_points_downscale_factor,
            point_grids=point_grids, min_mask_region_area=min_mask_region_area,
            output_mode='coco_rle')
        for name, offsets in (('score_thresh_offset', score_thresh_offset),
                              ('score_nms_offset', score_nms_offset)):
            if len(offsets) != len(LEVEL_NAMES):
                raise ValueError(f'{name} needs one offset per level {LEVEL_NAMES}, got {offsets}')
        self.score_thresh_offset = tuple(float(x) for x in score_thresh_offset)
        self.score_nms_offset = tuple(float(x) for x in score_nms_offset)
        self.rock_sand_water_thresh = rock_sand_water_thresh
        if crop_batch < 1:
            raise ValueError(f'crop_batch must be >= 1, got {crop_batch}')
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got {dtype!r}')
        self.crop_batch, self.dtype = crop_batch, DTYPES[dtype]
        model.image_encoder.to(self.dtype)
        model.mask_decoder.to(self.dtype)

    @torch.no_grad()
    def generate(self, image: np.ndarray) -> List[Dict[str, Any]]:
        """Masks of an RGB uint8 (H, W, 3) image, as the stock generator's records in 'coco_rle'
        mode (segmentation: COCO RLE with str counts, area, bbox XYWH, predicted_iou,
        point_coords, stability_score, crop_box) plus each mask's ``level``, in the stock
        generator's order (the rock-sand-water filter only removes)."""
        return finish_masks(self.generate_dense(image), **self.finish_settings(),
                            device=self.predictor.device)

    def finish_settings(self) -> Dict[str, Any]:
        """The settings of :func:`finish_masks`, the CPU half of :meth:`generate`."""
        return dict(min_mask_region_area=self.min_mask_region_area,
                    nms_thresh=max(self.box_nms_thresh, self.crop_nms_thresh),
                    rock_sand_water_thresh=self.rock_sand_water_thresh)

    @torch.no_grad()
    def generate_dense(self, image: np.ndarray) -> MaskData:
        """The device half of :meth:`generate`: the masks after the crops' NMS, dense (bool,
        image-sized) and on the CPU, for :func:`finish_masks` (here, or in a worker process)."""
        data = self._generate_masks(image)
        for key, value in data.items():
            data[key] = value.cpu()
        return data

    def _generate_masks(self, image: np.ndarray) -> MaskData:
        orig_size = image.shape[:2]
        crop_boxes, layer_idxs = generate_crop_boxes(orig_size, self.crop_n_layers,
                                                     self.crop_overlap_ratio)
        parts = []
        for start in range(0, len(crop_boxes), self.crop_batch):
            boxes = crop_boxes[start:start + self.crop_batch]
            features, input_sizes = self._embed_crops(image, boxes)
            for i, (box, layer) in enumerate(zip(boxes, layer_idxs[start:start + len(boxes)])):
                parts.append(self._process_crop(features[i:i + 1], input_sizes[i], box, layer,
                                                orig_size))
        data = _cat(parts)
        if len(crop_boxes) > 1:
            # Remove duplicates between crops, preferring masks from smaller crops (as stock).
            scores = 1 / box_area(data['crop_boxes'])
            keep = batched_nms(data['boxes'].float(), scores.to(data['boxes'].device),
                               torch.zeros(len(data['boxes']), device=data['boxes'].device),
                               iou_threshold=self.crop_nms_thresh)
            data.filter(keep)
        return data

    def _embed_crops(self, image: np.ndarray, crop_boxes: List[List[int]]
                     ) -> Tuple[torch.Tensor, List[Tuple[int, int]]]:
        """The image encoder's features of the crops, in one call (``SamPredictor.set_image``'s
        resizing and padding, crop by crop), and each crop's resized size."""
        model, device = self.predictor.model, self.predictor.device
        inputs, sizes = [], []
        for x0, y0, x1, y1 in crop_boxes:
            resized = self.predictor.transform.apply_image(image[y0:y1, x0:x1, :])
            tensor = torch.as_tensor(resized, device=device).permute(2, 0, 1).contiguous()
            sizes.append(tuple(tensor.shape[-2:]))
            inputs.append(model.preprocess(tensor[None]))
        batch = torch.cat(inputs).to(self.dtype)
        return model.image_encoder(batch), sizes

    def _process_crop(self, features: torch.Tensor, input_size: Tuple[int, int],
                      crop_box: List[int], crop_layer_idx: int,
                      orig_size: Tuple[int, ...]) -> MaskData:
        """One crop's masks: the decoder over all its points, then each test once over all of
        them (IoU on the low-res outputs, stability and crop edge on the upscaled masks), the
        in-crop NMS, and the survivors padded to the image size."""
        x0, y0, x1, y1 = crop_box
        im_size = (y1 - y0, x1 - x0)
        device = self.predictor.device
        points = torch.as_tensor(self.point_grids[crop_layer_idx] * np.array(im_size)[None, ::-1],
                                 device=device)  # float64, as the stock generator's
        data = _cat([self._decode(features, batch, im_size)
                     for batch in points.split(self.points_per_batch)])
        if self.pred_iou_thresh > 0.0:  # the IoU test needs no mask: rejects are never upscaled
            _keep(data, level_scores(data['iou_preds'], data['level'], self.score_thresh_offset)
                  > self.pred_iou_thresh)
        data = self._upscale(data, input_size, im_size, crop_box, orig_size)
        keep = batched_nms(data['boxes'].float(),
                           level_scores(data['iou_preds'], data['level'], self.score_nms_offset),
                           torch.zeros(len(data['boxes']), device=device),
                           iou_threshold=self.box_nms_thresh)
        data.filter(keep)
        # Only the masks that survived the NMS are padded to the image size.
        data['masks'] = uncrop_masks(data['masks'], crop_box, *orig_size)
        data['boxes'] = uncrop_boxes_xyxy(data['boxes'], crop_box)
        data['points'] = uncrop_points(data['points'], crop_box)
        data['crop_boxes'] = torch.tensor([crop_box], dtype=torch.long,
                                          device=device).repeat(len(keep), 1)
        return data

    def _decode(self, features: torch.Tensor, points: torch.Tensor,
                im_size: Tuple[int, int]) -> MaskData:
        """The decoder's low-res masks and predicted IoUs (fp32) of a batch of point prompts
        (crop pixels, on the device), three levels per point; nothing is filtered here."""
        model, device = self.predictor.model, self.predictor.device
        target = self.predictor.transform.target_length
        new_h, new_w = ResizeLongestSide.get_preprocess_shape(*im_size, target)
        # ResizeLongestSide.apply_coords, in float64 on the device; scaled by Python numbers, as
        # a tensor of scales would be a copy that waits for the previous batch's decoder
        in_points = torch.stack([points[:, 0] * (new_w / im_size[1]),
                                 points[:, 1] * (new_h / im_size[0])], dim=1)
        in_labels = torch.ones(len(points), dtype=torch.int, device=device)
        sparse, dense = model.prompt_encoder(points=(in_points[:, None, :], in_labels[:, None]),
                                             boxes=None, masks=None)
        # without a mask prompt ``dense`` is one embedding expanded over the batch: cast that one
        # (a cast of the expanded view would write 2 bytes x 256 x 64 x 64 per prompt)
        dense = dense[:1].to(self.dtype).expand_as(dense)
        low_res, iou_preds = model.mask_decoder(
            image_embeddings=features,
            image_pe=model.prompt_encoder.get_dense_pe().to(self.dtype),
            sparse_prompt_embeddings=sparse.to(self.dtype),
            dense_prompt_embeddings=dense, multimask_output=True)
        num_levels = iou_preds.shape[1]
        return MaskData(low_res=low_res.flatten(0, 1).float(),
                        iou_preds=iou_preds.flatten(0, 1).float(),
                        level=torch.arange(num_levels, device=device).repeat(len(points)),
                        points=points.repeat_interleave(num_levels, 0))

    def _upscale(self, data: MaskData, input_size: Tuple[int, int], im_size: Tuple[int, int],
                 crop_box: List[int], orig_size: Tuple[int, ...]) -> MaskData:
        """The low-res masks upscaled to crop size (``points_per_batch`` prompts' worth at a
        time), as bool masks with stability scores and boxes; those that fail the stability or
        the crop-edge test are dropped, in one pass."""
        model = self.predictor.model
        chunks = []
        for low_res in data['low_res'].split(3 * self.points_per_batch):
            logits = model.postprocess_masks(low_res[:, None], input_size, im_size)[:, 0]
            masks = logits > model.mask_threshold
            chunks.append((calculate_stability_score(logits, model.mask_threshold,
                                                     self.stability_score_offset), masks,
                           batched_mask_to_box(masks)))
            del logits
        del data['low_res']
        for i, key in enumerate(('stability_score', 'masks', 'boxes')):
            data[key] = torch.cat([chunk[i] for chunk in chunks])
        keep = ~is_box_near_crop_edge(data['boxes'], crop_box, [0, 0, orig_size[1], orig_size[0]])
        if self.stability_score_thresh > 0.0:
            keep &= data['stability_score'] >= self.stability_score_thresh
        _keep(data, keep)
        return data


def finish_masks(data: MaskData, min_mask_region_area: int, nms_thresh: float,
                 rock_sand_water_thresh: Optional[float],
                 device: Union[str, torch.device] = 'cpu') -> List[Dict[str, Any]]:
    """The CPU half of :meth:`LevelAwareMaskGenerator.generate`, on its
    :meth:`~LevelAwareMaskGenerator.generate_dense` masks: the small-region clean-up, the
    rock-sand-water filter (on ``device``) and the records. A plain function of plain data, so
    that it can run in a worker process while the device generates the next image's masks."""
    if min_mask_region_area > 0:
        data = remove_small_mask_regions(data, min_mask_region_area, nms_thresh)
    if rock_sand_water_thresh is not None and len(data['level']):
        data.filter(rock_sand_water_keep(data['masks'].to(device), data['level'].to(device),
                                         rock_sand_water_thresh).cpu())
    return _records(data)


def pack_dense(data: MaskData) -> Dict[str, Any]:
    """:meth:`~LevelAwareMaskGenerator.generate_dense` masks as numpy arrays, the masks packed to
    bits: an eighth of the bytes to pickle to a worker process (:func:`unpack_dense`)."""
    arrays = {k: v.cpu().numpy() for k, v in data.items() if k != 'masks'}
    masks = data['masks'].cpu().numpy()
    return dict(arrays, masks=np.packbits(masks.reshape(len(masks), -1), axis=1),
                mask_shape=masks.shape)


def unpack_dense(packed: Dict[str, Any]) -> MaskData:
    """The MaskData that :func:`pack_dense` packed."""
    shape = packed['mask_shape']
    masks = np.unpackbits(packed['masks'], axis=1, count=int(np.prod(shape[1:])))
    fields = {k: torch.from_numpy(v) for k, v in packed.items() if k not in ('masks', 'mask_shape')}
    return MaskData(**fields, masks=torch.from_numpy(masks.reshape(shape).view(bool)))


def remove_small_mask_regions(data: MaskData, min_area: int, nms_thresh: float) -> MaskData:
    """segment-anything's ``postprocess_small_regions`` on the dense masks (CPU): fill holes and
    remove islands below ``min_area`` (OpenCV), then a box NMS at ``nms_thresh`` that prefers
    the masks this left unchanged."""
    if len(data['masks']) == 0:
        return data
    masks = data['masks'].cpu().numpy()
    scores = []
    for i, mask in enumerate(masks):
        mask, filled = remove_small_regions(mask, min_area, mode='holes')
        mask, removed = remove_small_regions(mask, min_area, mode='islands')
        if filled or removed:
            masks[i] = mask
        scores.append(float(not (filled or removed)))
    data['masks'] = torch.from_numpy(masks)
    data['boxes'] = batched_mask_to_box(data['masks'])
    keep = batched_nms(data['boxes'].float(), torch.as_tensor(scores), torch.zeros(len(scores)),
                       iou_threshold=nms_thresh)
    data.filter(keep)
    return data


def _records(data: MaskData) -> List[Dict[str, Any]]:
    """The masks as records, RLE-encoded in one pycocotools call."""
    if len(data['masks']) == 0:
        return []
    # pycocotools wants column-major (H, W, N) uint8: transpose (on the device), copy once.
    masks = data['masks'].transpose(1, 2).contiguous().cpu().numpy()
    rles = mask_utils.encode(masks.view(np.uint8).transpose(2, 1, 0))
    boxes, crop_boxes = data['boxes'].cpu(), data['crop_boxes']
    fields = zip(rles, mask_utils.area(rles).tolist(),
                 torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist(),
                 data['iou_preds'].tolist(), data['points'].tolist(),
                 data['stability_score'].tolist(),
                 torch.cat([crop_boxes[:, :2], crop_boxes[:, 2:] - crop_boxes[:, :2]],
                           1).tolist(),
                 data['level'].tolist())
    records = []
    for rle, area, bbox, iou, point, stability, crop_box, level in fields:
        rle['counts'] = rle['counts'].decode('utf-8')
        records.append(dict(segmentation=rle, area=area, bbox=bbox, predicted_iou=iou,
                            point_coords=[point], stability_score=stability,
                            crop_box=crop_box, level=level))
    return records
