"""Seeders: (K, H, W) CAMs of an image's labelled classes -> (seed, confidence).

Every seeder is called as ``seeder(cams, class_ids, metainfo)`` with CAMs in [0, 1] at the
image's size, the class ids (1..C) of its rows and the sample's metainfo (``img_path`` for the
image), and returns a uint8 seed (0 background, 1..C, 255 ignore) and a float32 confidence.
"""
from .cam_seeders import ArgmaxSeeder, CRFSeeder
from .relevancy import RelevancySeeder
from .sams import SAMSSeeder, paint_masks, sams_seed

__all__ = ['ArgmaxSeeder', 'CRFSeeder', 'RelevancySeeder', 'SAMSSeeder', 'paint_masks',
           'sams_seed']
