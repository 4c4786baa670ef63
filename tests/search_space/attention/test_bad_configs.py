"""Bad attention configs fail at the edge with one line naming the field, the value and what is allowed."""
import pytest

from search_space import ArchConfig
from search_space.errors import AttnasError

TINY = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "input_size": [3, 16, 16]}


@pytest.mark.parametrize("attention, pattern", [
    ("sse", r"^attention\.type: 'sse' is not a registered attention; allowed: bam, ca, cbam, .*triplet"),
    ({"type": "triplet", "zpool_stats": []}, r"^attention\.zpool_stats: \[\] is empty; allowed: a non-empty subset"),
    ({"type": "se", "reduction": 32}, r"^attention\.reduction: 32 is not allowed for a layer of 8 channels; allowed: 1\.\.8"),
    ({"type": "cbam", "reduction": 64}, r"^attention\.reduction: 64 .*8 channels"),
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
