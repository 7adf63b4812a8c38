"""Rank prompt templates by CLIP-ES's sharpness on the multi-label images of a split (lower is
better; see wsss.models.clip_es.prompt_selection.template_sharpness) and print the ranking,
best first.

    python tools/select_prompts.py --dataset voc12 --data-root data/VOCdevkit/VOC2012 --split train
    python tools/select_prompts.py ... --templates 'a photo of a {}.' 'a clean origami {}.'

Images: RGB, the short side resized (bicubic) to --short-side (224, CLIP's training size; 0 keeps
the image's size), each side then rounded up to a multiple of the patch size, CLIP-normalised.
"""
import argparse
import json
import math
import sys
from typing import Dict, Iterator, List, Tuple

import mmengine
import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from PIL import Image

from wsss.datasets import dataset_config
from wsss.datasets.class_names import DATASET_CLASSES
from wsss.datasets.transforms import read_image_bytes
from wsss.models.clip import build_clip, build_tokenizer
from wsss.models.clip_es.prompt_selection import DEFAULT_TEMPLATES, template_sharpness
from wsss.registry import DATASETS
from wsss.utils import register_all_modules


def clip_input(path: str, short_side: int, patch: Tuple[int, int]) -> torch.Tensor:
    """(3, H, W) CLIP-normalised image, sides multiples of the patch size."""
    with open(path, 'rb') as f:
        rgb = read_image_bytes(path, f.read())[..., ::-1]
    h, w = rgb.shape[:2]
    scale = short_side / min(h, w) if short_side else 1.0
    size = (math.ceil(w * scale / patch[1]) * patch[1], math.ceil(h * scale / patch[0]) * patch[0])
    resized = Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.BICUBIC)
    x = torch.from_numpy(np.asarray(resized, np.float32) / 255).permute(2, 0, 1)
    mean, std = torch.tensor(OPENAI_DATASET_MEAN), torch.tensor(OPENAI_DATASET_STD)
    return (x - mean[:, None, None]) / std[:, None, None]


def read_templates(path: str) -> List[str]:
    """One template per line; blank lines and lines starting with # are skipped."""
    with open(path) as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if line and not line.startswith('#')]


def print_ranking(scores: Dict[str, float], num_images: int) -> None:
    """The templates by increasing sharpness (best first)."""
    width = max(len(t) for t in ['template', *scores])
    print(f'\n{"rank":>4}  {"template":<{width}}  {"sharpness":>10}  images')
    for rank, (template, score) in enumerate(sorted(scores.items(), key=lambda kv: kv[1]), 1):
        print(f'{rank:>4}  {template:<{width}}  {score:>10.6f}  {num_images}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', required=True, choices=sorted(DATASET_CLASSES))
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--split', required=True)
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--templates-file', help='one template with {} per line')
    source.add_argument('--templates', nargs='+', help='templates with {} for the class name')
    parser.add_argument('--clip-name', default='ViT-B-16', help='open_clip model name')
    parser.add_argument('--clip-pretrained', default='openai',
                        help="open_clip pretrained tag or checkpoint file; 'none' for random "
                             'weights (smoke tests)')
    parser.add_argument('--clip-model-cfg', help='JSON file with an open_clip model config, '
                                                 'used instead of the config of --clip-name')
    parser.add_argument('--max-images', type=int, help='use the first N multi-label images')
    parser.add_argument('--short-side', type=int, default=224,
                        help='resize the short side to this (0: keep the image size)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()

    if args.templates_file:
        templates = read_templates(args.templates_file)
    else:
        templates = args.templates or list(DEFAULT_TEMPLATES)
    if not templates:
        parser.error(f'no template in {args.templates_file}')

    register_all_modules()
    dataset = DATASETS.build(dataset_config(args.dataset, args.data_root, args.split))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    # only multi-label images count, so the others are not even read
    infos = [info for info in infos if info['img_labels'].sum() >= 2][:args.max_images]
    if not infos:
        print(f'no image of {args.split} has two or more labelled classes', file=sys.stderr)
        return 1

    model_cfg = None
    if args.clip_model_cfg:
        with open(args.clip_model_cfg) as f:
            model_cfg = json.load(f)
    pretrained = None if args.clip_pretrained.lower() == 'none' else args.clip_pretrained
    model = build_clip(args.clip_name, pretrained=pretrained, model_cfg=model_cfg,
                       device=args.device)
    tokenizer = build_tokenizer(args.clip_name, model_cfg)

    def images() -> Iterator[Tuple[torch.Tensor, np.ndarray]]:
        for info in infos:
            image = clip_input(info['img_path'], args.short_side, model.visual.patch_size)
            yield image, info['img_labels']

    names = DATASET_CLASSES[args.dataset]
    scores = template_sharpness(model, tokenizer,
                                mmengine.track_iter_progress((images(), len(infos))), templates,
                                names['prompt_names'], names['background_words'])
    print_ranking(scores, len(infos))
    return 0


if __name__ == '__main__':
    sys.exit(main())
