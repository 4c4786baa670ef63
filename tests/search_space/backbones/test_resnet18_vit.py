"""ResNet18_vit (seed 000's baseline): torchvision's ResNet-18 trunk, its last map as tokens, ViT blocks."""
import pytest
import torch

from search_space import ArchConfig, build_model
from search_space.errors import AttnasError

SMALL = {"layers": 2, "dim": 32, "mlp_dim": 48, "heads": 2, "head_dim": 8, "dropout": 0.0}


def arch(**backbone):
    return ArchConfig.from_dict({"backbone": {"type": "resnet18_vit", **SMALL, **backbone}, "num_classes": 7,
                                 "input_size": [3, 64, 64]})


def test_trunk_is_torchvisions_resnet18():
    model = build_model(arch()).backbone
    trunk = 11_689_512 - (512 * 1000 + 1000)                             # torchvision resnet18 without its fc
    assert sum(p.numel() for p in [*model.stem.parameters(), *model.stages.parameters()]) == trunk


@pytest.mark.parametrize("patch, pos_embed", [(1, True), (2, True), (1, False)])
def test_transformer_counts_as_vit(patch, pos_embed):
    model = build_model(arch(patch=patch, pos_embed=pos_embed)).backbone
    d, inner, mlp, tokens = 32, 16, 48, (2 // patch) ** 2 + 1             # 64x64 input: a 2x2 last map
    block = 2 * (2 * d) + (d * 3 * inner + 3 * inner) + (inner * d + d) + (d * mlp + mlp) + (mlp * d + d)
    embed = 512 * d * patch * patch + d + d + (tokens * d if pos_embed else 0)
    head = 2 * d + d * 7 + 7
    extra = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in [*model.stem.parameters(), *model.stages.parameters()])
    assert extra == embed + 2 * block + head


def test_forward_and_patch_that_does_not_tile():
    model = build_model(arch()).eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    with pytest.raises(AttnasError, match=r"^input_size: 3x64x64 gives a 2x2 last feature map, which backbone.patch 3"):
        arch(patch=3)
