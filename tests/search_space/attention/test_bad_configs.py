"""Bad attention configs fail at the edge with one line naming the field, the value and what is allowed."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.attention.se import SqueezeExcite
from search_space.errors import AttnasError

TINY = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "input_size": [3, 16, 16]}


@pytest.mark.parametrize("attention, pattern", [
    ("sse", r"^attention\.type: 'sse' is not a registered attention; allowed: bam, ca, cbam, .*triplet"),
    ({"type": "triplet", "zpool_stats": []}, r"^attention\.zpool_stats: \[\] is not allowed; allowed: a non-empty list"),
    ({"type": "triplet", "zpool_stats": ["avg", "mode"]}, r"^attention\.zpool_stats\[1\]: 'mode' is not allowed; allowed: max, avg"),
    ({"type": "triplet", "kernel_size": 4}, r"^attention\.kernel_size: 4 is not allowed; allowed: an odd integer >= 1"),
    ({"type": "se", "act": "swish"}, r"^attention\.act: 'swish' is not allowed; allowed: celu, elu, gelu, hard_swish, identity"),
    ({"type": "cbam", "gate": "relu"}, r"^attention\.gate: 'relu' is not allowed; allowed: hard_sigmoid, sigmoid, softmax, tanh"),
    ({"type": "cbam", "kernel_size": 9}, r"^attention\.kernel_size: 9 is not allowed; allowed: 3, 5, 7"),
    ({"type": "ge", "variant": "theta_max"}, r"^attention\.variant: 'theta_max' .*theta_minus, theta, theta_plus"),
    ({"type": "csm", "order": "both"}, r"^attention\.order: 'both' .*cam_sam, sam_cam"),
    ({"type": "se", "reduction": 0}, r"^attention\.reduction: 0 is not allowed; allowed: an integer >= 1"),
])
def test_bad_attention_config(attention, pattern):
    with pytest.raises(AttnasError, match=pattern) as err:
        ArchConfig.from_dict({**TINY, "attention": attention})
    assert "\n" not in str(err.value)


def test_sk_only_at_the_conv_point():
    with pytest.raises(AttnasError, match=r"^insertion_point: 'pre_add' is not allowed for attention 'sk'; allowed: conv"):
        ArchConfig.from_dict({**TINY, "attention": "sk", "insertion_point": "pre_add"})
    assert ArchConfig.from_dict({**TINY, "attention": "sk"}).insertion_point == "conv"


@pytest.mark.parametrize("reduction, hidden", [(2, 4), (8, 1), (32, 1), (1000, 1)])
def test_every_reduction_builds_at_every_width(reduction, hidden):
    """The reduced width is max(1, C // r) (layers.reduced_width): a reduction larger than the layer builds."""
    arch = ArchConfig.from_dict({**TINY, "attention": {"type": "se", "reduction": reduction}})
    model = build_model(arch)
    first = next(m for m in model.modules() if isinstance(m, SqueezeExcite))
    assert first.fc1.in_channels == 8 and first.fc1.out_channels == hidden
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
