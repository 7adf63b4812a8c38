"""Seeders: (K, H, W) class maps of an image's labelled classes -> (seed, confidence). The contract
(what a seeder receives, returns and declares) is :class:`Seeder` in ``base``; the CAM seeders
(argmax, dense CRF) and FMA-WSSS's SAMS live here, the relevancy click seeder with its method
(wsss.models.relevancy)."""
from .base import ClickSeeder, Seeder, build_seeder, check_seeder, model_seeder
from .cam_seeders import ArgmaxSeeder, CRFSeeder
from .sams import SAMSSeeder, paint_masks, sams_seed

__all__ = ['Seeder', 'ClickSeeder', 'build_seeder', 'check_seeder', 'model_seeder',
           'ArgmaxSeeder', 'CRFSeeder', 'SAMSSeeder', 'paint_masks', 'sams_seed']
