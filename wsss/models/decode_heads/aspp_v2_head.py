"""Stage-two decode heads that mmseg lacks."""
from typing import List, Sequence

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn

from ...registry import MODELS


@MODELS.register_module()
class ASPPV2Head(BaseDecodeHead):
    """DeepLab-v2's ASPP (Chen et al., TPAMI 2017), for comparison with the WSSS literature, which
    reports DeepLabV2 results: the SUM of parallel 3x3 convolutions with the given dilations,
    each mapping the features straight to class logits (mmseg's ASPPHead is DeepLab-v3's:
    branches to ``channels``, concatenated, a bottleneck, then ``conv_seg``).

    There is no ``conv_seg``, so ``channels`` is the class count. Weights are drawn from
    N(0, 0.01) and biases are 0, as in DeepLab-v2.
    """

    def __init__(self, in_channels: int, num_classes: int,
                 dilations: Sequence[int] = (6, 12, 18, 24), dropout_ratio: float = 0.0,
                 init_cfg: dict = dict(type='Normal', std=0.01, override=dict(name='aspp')),
                 **kwargs) -> None:
        super().__init__(in_channels, num_classes, num_classes=num_classes,
                         dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        del self.conv_seg  # the branches output the logits; an unused conv would break DDP
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.out_channels, 3, padding=d, dilation=d)
            for d in dilations)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        if self.dropout is not None:
            x = self.dropout(x)
        return sum(branch(x) for branch in self.aspp)
