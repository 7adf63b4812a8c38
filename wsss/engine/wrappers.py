"""Model wrappers for distributed runs."""
from mmengine.registry import MODEL_WRAPPERS
from torch import nn


# Registered in mmengine's root registry: the Runner looks wrapper types up there without
# consulting the default scope.
@MODEL_WRAPPERS.register_module()
class InferenceWrapper(nn.Module):
    """Stands in for DistributedDataParallel in distributed runs that only infer (seed generation):
    a frozen model has no gradients to synchronise, and DDP refuses a model without trainable
    parameters. Each rank runs its own shard of the data."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def test_step(self, data):
        return self.module.test_step(data)

    def val_step(self, data):
        return self.module.val_step(data)

    def train_step(self, data, optim_wrapper):
        raise RuntimeError('InferenceWrapper is for inference; train with DistributedDataParallel')
