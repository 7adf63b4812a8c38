"""The relevancy seeder (docs/relevancy.md): CLIP relevancy maps averaged over test-time
augmentations (``model``), clicks from their peaks, SAM masks from the clicks and the seed from
the masks (``seeding``)."""
from .model import CLIPRelevancyModel, clip_relevancy, relevancy_rollout, tta_relevancy
from .seeding import RelevancySeeder, relevancy_clicks, relevancy_seed

__all__ = ['CLIPRelevancyModel', 'clip_relevancy', 'relevancy_rollout', 'tta_relevancy',
           'RelevancySeeder', 'relevancy_clicks', 'relevancy_seed']
