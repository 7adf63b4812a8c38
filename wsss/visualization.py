"""Pictures for a person to look at: CAM heatmaps and seed overlays."""
from typing import Optional, Sequence

import cv2
import numpy as np

from .io.seeds import voc_palette


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 * len(text) + 8), 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def cam_heatmaps(image: np.ndarray, cams: np.ndarray, names: Sequence[str],
                 alpha: float = 0.5, points: Optional[np.ndarray] = None) -> np.ndarray:
    """The image (H, W, 3, BGR) then one JET heatmap blend per CAM (K, H, W) in [0, 1], side by
    side, each captioned with its class name; ``points`` (K, n, 2) (x, y), e.g. the clicks given
    to SAM, are drawn on their map as white rings numbered from 1."""
    panels = [_label(image, 'image')]
    for k, (cam, name) in enumerate(zip(cams, names)):
        heat = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), cv2.COLORMAP_JET)
        panel = _label(cv2.addWeighted(image, 1 - alpha, heat, alpha, 0), name)
        for i, (x, y) in enumerate(points[k] if points is not None else ()):
            centre = (int(round(x)), int(round(y)))
            cv2.circle(panel, centre, 4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.circle(panel, centre, 4, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.putText(panel, str(i + 1), (centre[0] + 5, centre[1] - 5),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    return np.concatenate(panels, axis=1)


def seed_overlay(image: np.ndarray, seed: np.ndarray, class_names: Sequence[str],
                 alpha: float = 0.6) -> np.ndarray:
    """The image and the seed in VOC colours (ignored pixels white) blended, beside the image,
    captioned with the classes present."""
    colours = np.array(voc_palette(256), np.uint8)[:, ::-1].copy()  # RGB -> BGR
    colours[255] = 255
    coloured = colours[seed]
    blend = cv2.addWeighted(image, 1 - alpha, coloured, alpha, 0)
    present = [class_names[c] for c in np.unique(seed) if 0 < c < len(class_names)]
    return np.concatenate([_label(image, 'image'),
                           _label(blend, 'seed: ' + (', '.join(present) or 'background'))],
                          axis=1)
