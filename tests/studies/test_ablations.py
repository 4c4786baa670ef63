"""The shipped ablation studies (studies/ablations/): every file loads, names the table it reproduces, has the
table's arm count, every arm builds at the study's default data size and at its paper's setting (check_fits, no
training), the reported numbers are attached, and `attnas search <name>` finds the file by name."""
from pathlib import Path

import pytest

from search_space.errors import AttnasError
from studies.arms import arm_rows
from studies.commands.search import ablation_dir, ablation_names, data_override, resolve_study
from studies.config import StudyConfig

ARMS = {
    # seed 000 (FFT)
    "fft-ablation": 3, "fft-sizes": 3, "fft-baselines": 3,        # Tables III-IV: 3 of 7 rows are in the zoo
    # seed 001 (FA)
    "fa-cifar10": 24, "fa-cifar100": 12, "fa-tinyimagenet": 12, "fa-se-tinyimagenet": 6, "fa-se-cifar100": 4,
    "fa-imagenet5": 4,
    # seed 002 (DCA)
    "dca-modules": 27, "dca-connections": 4, "dca-depth": 9, "dca-channel-matching": 5, "dca-spatial-matching": 3,
    "dca-dimensions": 4,
    # seed 003 (the report)
    "triplet-zpool": 4, "triplet-modules": 4, "triplet-activation": 8, "van-variants": 14, "van-mb-kernels": 4,
    "van-activation": 5, "van-res2net-replk": 4, "res2net-activation": 5, "res2net-attention": 9,
    "res2net-stem-downsample": 4, "res2net-combined": 5,
    # seed 004 (CSM)
    "csm-ablation": 4, "csm-imagenet": 12, "csm-cifar100": 8, "csm-order": 2,
}
"""Arms per shipped file: the rows of the table it reproduces."""
NO_NUMBERS = {"csm-order"}          # the paper shows curves only
SAME_NETWORK = {"triplet-activation": [{"7x7conv-relu", "batchnorm-sigmoid"}, {"7x7conv-celu", "7x7conv-elu"}],
                "van-activation": [{"celu", "elu"}], "res2net-activation": [{"res2net-c", "res2net-e"}]}
"""Arms that are one architecture: 表3's baseline appears twice (ReLU after the conv, sigmoid after BN); CELU at
alpha 1 is ELU (layers.ACTIVATION_ALIASES), so the CeLU and ELU arms are one network (表6 prints the same
numbers for both)."""


def digits_shape(cfg) -> tuple[int, list]:
    data = cfg.data_config()
    assert data.name == "digits"     # the default: runs anywhere, no download
    return 10, [1, data.image_size or 16, data.image_size or 16]


def test_every_shipped_file_is_listed_here():
    assert sorted(ARMS) == ablation_names()


@pytest.mark.parametrize("name", sorted(ARMS))
def test_ablation_file_loads_and_every_arm_builds(name):
    path = ablation_dir() / f"{name}.yaml"
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and any(w in first for w in ("Table", "表", "Fig")), first
    cfg = StudyConfig.from_yaml(path)
    assert cfg.name == name and cfg.space is None and cfg.scheduler == "none"
    assert len(cfg.arms) == ARMS[name] and cfg.trials == ARMS[name]
    classes, size = digits_shape(cfg)
    for arm in cfg.arms:
        arch = arm.config(num_classes=classes, input_size=size)       # check_fits at the study's data size
        assert arch.num_classes == classes
    hashes = {arm.name: arm.config(num_classes=classes, input_size=size).hash for arm in cfg.arms}
    groups = SAME_NETWORK.get(name, [])
    same = set().union(*groups)
    assert len({h for n, h in hashes.items() if n not in same}) == len(hashes) - len(same), "two arms are one network"
    for group in groups:
        assert len({hashes[n] for n in group}) == 1
    assert len({hashes[next(iter(g))] for g in groups} | {h for n, h in hashes.items() if n not in same}) \
        == len(hashes) - len(same) + len(groups)
    if name in NO_NUMBERS:
        return
    for row in arm_rows(cfg.arms):
        rep = row["reported"]
        assert rep.get("table") and ("top1_pct" in rep or "error_pct" in rep or "params_m" in rep), row["arm"]
        if "params_m" in rep:
            assert row["paper_params"] is not None, f"{row['arm']} does not build at its paper's setting"


def test_reported_numbers_are_the_tables():
    """Spot checks against the seeds' tables (002 Table 2, 001 Table I, 003 表9, 000 Table V)."""
    def arm(study, name):
        return next(a for a in StudyConfig.from_yaml(ablation_dir() / f"{study}.yaml").arms if a.name == name)
    assert arm("dca-connections", "weighted").reported == {
        "top1_pct": 77.4693, "top5_pct": 93.6703, "macs_g": 4.133, "params_m": 30.90, "dataset": "imagenet",
        "table": "002 Table 2"}
    assert arm("fa-cifar10", "fa-resnet110").reported["error_pct"] == 5.57
    assert arm("res2net-attention", "res2net-st").reported["top1_pct"] == 53.51
    fft = arm("fft-ablation", "without-ram")
    assert fft.reported_for("cifar100")["top1_pct"] == 55.81 and fft.reported_for("flowers")["top1_pct"] == 88.42


OFF_BY_MORE = {("fa-tinyimagenet", "se-vgg19"): "20.45 M vs 20.28 M: the same SE adds 0.31 M on CIFAR (Table I)",
               ("dca-modules", "dca-se-mobilenetv2"): "3.64 M vs 3.60 M (1.1 %), documented in its preset"}


def test_the_papers_counts_where_the_zoo_reproduces_them():
    """Where the zoo matches a table (DCA, FA with its stride-2 / max-pool Tiny-ImageNet forms, FFT's sizes, the VAN
    variants, the report's Res2Net family), the paper-setting counts of the arms are within 1 % of the reported
    parameters, except the rows of OFF_BY_MORE."""
    for study, tol in (("dca-connections", 0.01), ("dca-depth", 0.01), ("dca-modules", 0.01),
                       ("van-mb-kernels", 0.01), ("fa-cifar10", 0.01), ("fa-tinyimagenet", 0.01), ("fft-sizes", 0.01),
                       ("res2net-stem-downsample", 0.01), ("res2net-combined", 0.01)):
        for row in arm_rows(StudyConfig.from_yaml(ablation_dir() / f"{study}.yaml").arms):
            rep = row["reported"]["params_m"] * 1e6
            if (study, row["arm"]) in OFF_BY_MORE:
                continue
            assert abs(row["paper_params"] - rep) <= tol * rep, (study, row["arm"], row["paper_params"], rep)


def test_shipped_ablations_resolve_by_name(tmp_path, monkeypatch):
    target = ablation_dir() / "dca-connections.yaml"
    for ref in ("dca-connections", "dca-connections.yaml", "ablations/dca-connections.yaml",
                "studies/ablations/dca-connections.yaml"):
        assert resolve_study(ref).resolve() == target.resolve()
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "dca-connections.yaml"
    own.write_text("name: mine\n")
    assert resolve_study("dca-connections.yaml") == Path("dca-connections.yaml")      # a file that exists wins
    with pytest.raises(AttnasError, match="neither a file nor a shipped ablation; allowed: .*dca-connections"):
        resolve_study("dca-connection")


def test_data_switches_to_the_papers_data_at_its_native_size():
    cfg = StudyConfig.from_yaml(ablation_dir() / "dca-connections.yaml")
    paper = data_override(cfg, "cifar10", "/data/cifar")
    assert paper.data == {"name": "cifar10", "val_fraction": 0.2, "seed": 0, "data_dir": "/data/cifar"}
    assert data_override(cfg, None, None) is cfg
    assert data_override(cfg, "digits", None).data["image_size"] == 32
    assert data_override(cfg, "imagefolder", "/imagenet", 224).data == {
        "name": "imagefolder", "val_fraction": 0.2, "seed": 0, "data_dir": "/imagenet", "image_size": 224}
