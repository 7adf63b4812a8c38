"""DeepLab-v2's ASPP head against a hand computation: the sum of four dilated convolutions,
DeepLab-v2's initialisation, and pixels of 255 ignored by the loss."""
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss.io.seeds import IGNORE_INDEX
from wsss.registry import MODELS


def aspp_head(**kwargs) -> torch.nn.Module:
    head = MODELS.build(dict(type='ASPPV2Head', in_channels=6, num_classes=4, **kwargs))
    head.init_weights()
    return head


def test_aspp_v2_is_the_sum_of_four_dilated_convolutions():
    torch.manual_seed(0)
    head = aspp_head(in_index=1)
    for conv in head.aspp:
        torch.nn.init.normal_(conv.bias)  # init_weights leaves them 0
    x = torch.randn(2, 6, 9, 11)
    expected = sum(F.conv2d(x, conv.weight, conv.bias, padding=d, dilation=d)
                   for conv, d in zip(head.aspp, (6, 12, 18, 24)))
    out = head([torch.randn(2, 6, 5, 5), x])  # in_index picks the second map
    assert out.shape == (2, 4, 9, 11)  # padding = dilation keeps the size
    torch.testing.assert_close(out, expected)
    assert not hasattr(head, 'conv_seg')
    assert [c.dilation for c in head.aspp] == [(d, d) for d in (6, 12, 18, 24)]


def test_aspp_v2_is_initialised_as_deeplab_v2_and_ignores_255():
    head = aspp_head(dilations=(1, 2))
    for conv in head.aspp:
        assert torch.all(conv.bias == 0) and 0.007 < conv.weight.std() < 0.013  # N(0, 0.01)
    label = torch.full((1, 8, 8), IGNORE_INDEX)
    sample = SegDataSample(gt_sem_seg=PixelData(data=label))
    logits = head([torch.randn(1, 6, 4, 4)])
    assert head.loss_by_feat(logits, [sample])['loss_ce'] == 0  # every pixel ignored
    label[0, :4] = 2
    assert head.loss_by_feat(logits, [sample])['loss_ce'] > 0
