"""Evaluation: writing seeds in the test loop, seed quality against the GT and the
background-power search over CAM files; stage two's test metric; the metric files of every
evaluation; stage-two predictions as benchmark submission files."""
from .job_writer import ImageJobWriter, print_failed_list, write_failed_list
from .mask_store_writer import MaskStoreWriter
from .metrics_files import (
                        METRICS_FILE,
                        PER_IMAGE_FILE,
                        dataset_image_paths,
                        read_metrics,
                        read_per_image,
                        write_metrics,
)
from .prediction_writer import PredictionWriter
from .sam_writer import SAMMaskWriter
from .seed_eval import (
                        ImageScore,
                        SegStats,
                        best_power,
                        evaluate_dataset_seeds,
                        evaluate_seed_dir,
                        format_table,
                        search_bg_power,
)
from .seed_writer import SeedWriter
from .seg_metric import SegMetric

__all__ = ['SeedWriter', 'SegMetric', 'ImageScore', 'METRICS_FILE', 'PER_IMAGE_FILE',
           'dataset_image_paths', 'read_metrics', 'read_per_image', 'write_metrics',
           'SAMMaskWriter', 'PredictionWriter', 'MaskStoreWriter', 'SegStats',
           'format_table', 'evaluate_seed_dir', 'evaluate_dataset_seeds',
           'search_bg_power',
           'best_power', 'print_failed_list',
           'write_failed_list', 'ImageJobWriter']
