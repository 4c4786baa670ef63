"""Deep Connected Attention (seed 002): connection functions (Eq. 4-6), the link protocol (Eq. 3), size matching
(Sec. 3.3), per-dimension connections (Sec. 3.4) and the published parameter counts (Table 1)."""
import pytest
import torch
import torch.nn.functional as F
import yaml

from search_space.arch_config import ArchConfig
from search_space.build import ForwardState, build_model
from search_space.connections.dca import per_image
from search_space.connections.functions import direct, softmax, weighted
from search_space.errors import AttnasError
from search_space.presets import preset_path
from search_space.registry import ATTENTION, CONNECTIONS, keyword_params




COUNTS = {}


def params(arch):
    """Parameter count of ``arch`` built on the meta device (cached: several tests share a model)."""
    if arch.hash not in COUNTS:
        with torch.device("meta"):
            COUNTS[arch.hash] = sum(p.numel() for p in build_model(arch).parameters())
    return COUNTS[arch.hash]


def preset(name):
    return ArchConfig.from_dict(yaml.safe_load(preset_path(name).read_text()), check_fits=False)


def changed(name, **fields):
    return ArchConfig.from_dict({**preset(name).to_dict(), **fields}, check_fits=False)


def connect_block(function, kind, channels, state, attention, **connection):
    """A ``kind`` attention of ``channels`` connected by ``function`` on ``state``, as the builder does it."""
    params = ATTENTION.params(kind, attention, "attention")
    shapes = ATTENTION.get(kind).dca_shapes((channels, 1, 1), params)
    return CONNECTIONS.get(function)(ATTENTION.get(kind)(channels, **params), state, shapes,
                                     **CONNECTIONS.params(function, connection, "connection"))


def test_connection_functions_on_hand_tensors():
    g, p = torch.tensor([1.0, 2.0, -0.5]), torch.tensor([3.0, 0.5, 1.5])   # p = alpha * T~
    assert torch.allclose(direct(g, p), torch.tensor([4.0, 2.5, 1.0]))                        # Eq. 4
    want = torch.tensor([(1 + 9) / 4, (4 + 0.25) / 2.5, (-0.25 + 2.25) / 2.0])   # Eq. 5; opposite signs: |.| weights
    assert torch.allclose(weighted(g, p), want)
    big_g, big_p = torch.randn(10_000) * 3, torch.randn(10_000) * 3       # Eq. 5 read literally explodes near G = -aT
    f = weighted(big_g, big_p)
    assert torch.isfinite(f).all()
    assert ((f >= torch.minimum(big_g, big_p) - 1e-5) & (f <= torch.maximum(big_g, big_p) + 1e-5)).all()
    same = (big_g * big_p) > 0
    literal = (big_g * big_g + big_p * big_p) / (big_g + big_p)
    assert torch.allclose(f[same], literal[same], rtol=1e-4, atol=1e-5)   # equal to Eq. 5 where the signs agree
    eg, ep = torch.exp(-g), torch.exp(-p)                                                       # Eq. 6
    assert torch.allclose(softmax(g, p), eg / (eg + ep) * g + ep / (eg + ep) * p)
    assert torch.allclose(weighted(g, torch.zeros(3)), g)                                       # alpha = 0
    assert not torch.allclose(softmax(g, torch.zeros(3)), g)     # the paper: softmax sees T~ even at alpha 0


def test_first_block_has_no_predecessor_and_merge_is_identity():
    state = ForwardState()
    first = connect_block("direct", "se", 8, state, {"reduction": 4})
    second = connect_block("direct", "se", 8, state, {"reduction": 4})
    assert len(first.alpha) == 0 and set(second.alpha) == {"channel"} and len(second.match) == 0
    g = torch.randn(2, 8, 1, 1)
    assert first.merge("channel", g) is g


def test_se_merge_is_eq3_with_scaled_prior():
    """merge = G + alpha * (T~ * E~): SE's T~ is a sigmoid, so it is rescaled by the previous extraction."""
    state = ForwardState()
    a = connect_block("direct", "se", 8, state, {"reduction": 4})
    b = connect_block("direct", "se", 8, state, {"reduction": 4}, alpha_init=0.7)
    x = torch.randn(2, 8, 5, 5)
    a(x)
    e_prev = x.mean((2, 3), keepdim=True)
    t_prev = a.attention.transform(e_prev)
    g = torch.randn(2, 8, 1, 1)
    assert torch.allclose(b.merge("channel", g), g + 0.7 * t_prev * e_prev, atol=1e-6)


def test_unscaled_prior_is_not_rescaled():
    """GC fuses by addition, its T~ is not in (0, 1): merge adds alpha * T~ itself."""
    state = ForwardState()
    a = connect_block("direct", "gc", 8, state, {"reduction": 4})
    b = connect_block("direct", "gc", 8, state, {"reduction": 4}, alpha_init=0.5)
    torch.nn.init.normal_(a.attention.transform[-1].weight)
    x = torch.randn(2, 8, 4, 4)
    a(x)
    t_prev = a.attention.transform(a.attention.extract(x))
    g = torch.randn(2, 8, 1, 1)
    assert torch.allclose(b.merge("channel", g), g + 0.5 * t_prev, atol=1e-6)


@pytest.mark.parametrize("spatial_match, pool", [("avg", F.avg_pool2d), ("max", F.max_pool2d)])
def test_size_matching_across_a_stage_boundary(spatial_match, pool):
    """Channels double (1 FC 16 -> 32 on the channel dimension) and resolution halves (pooling on the spatial
    dimension, kernel = stride = 2), CBAM in both dimensions."""
    state = ForwardState()
    a = connect_block("direct", "cbam", 16, state, {"reduction": 4}, spatial_match=spatial_match)
    b = connect_block("direct", "cbam", 32, state, {"reduction": 4}, spatial_match=spatial_match,
                                  alpha_init=0.3)
    assert set(b.match) == {"channel"}                                  # CBAM's spatial G has 2 maps both times
    assert (b.match["channel"].fc.in_features, b.match["channel"].fc.out_features) == (16, 32)
    x = torch.randn(3, 16, 8, 8)
    a(x)
    cbam = a.attention
    g_c = torch.stack((x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)), dim=1)   # (3, 2, 16, 1, 1)
    t_c = cbam.channel_transform(g_c)
    xc = x * t_c
    g_s = torch.cat((xc.mean(1, keepdim=True), xc.amax(1, keepdim=True)), dim=1)              # (3, 2, 8, 8)
    t_s = cbam.spatial_transform(g_s)
    g_next_c, g_next_s = torch.randn(3, 2, 32, 1, 1), torch.randn(3, 2, 4, 4)
    fc = b.match["channel"].fc
    want_c = g_next_c + 0.3 * fc((t_c[:, None] * g_c).movedim(2, -1)).movedim(-1, 2)
    assert torch.allclose(b.merge("channel", g_next_c), want_c, atol=1e-5)
    assert torch.allclose(b.merge("spatial", g_next_s), g_next_s + 0.3 * pool(t_s * g_s, 2), atol=1e-5)
    assert b(torch.randn(3, 32, 4, 4)).shape == (3, 32, 4, 4)


@pytest.mark.parametrize("dims, connected", [("channel", {"channel"}), ("spatial", {"spatial"}),
                                             ("all", {"channel", "spatial"})])
def test_dca_c_s_all_connect_only_their_dimension(dims, connected):
    state = ForwardState()
    a = connect_block("direct", "cbam", 8, state, {"reduction": 4}, dims=dims)
    b = connect_block("direct", "cbam", 8, state, {"reduction": 4}, dims=dims)
    assert set(b.alpha) == connected
    a(torch.randn(2, 8, 4, 4))
    assert {key[1] for key in state} == connected
    for dim in {"channel", "spatial"} - connected:
        g = torch.randn(2, 2, 4, 4)
        assert b.merge(dim, g) is g


@pytest.mark.parametrize("function", ["direct", "weighted"])
def test_alpha_zero_is_the_vanilla_network(function):
    """Sec. 3.2: with alpha = 0 the connections are unused (same weights -> same output); with alpha != 0 not."""
    data = {"backbone": {"type": "resnet_cifar", "depth": 14}, "attention": {"type": "se", "reduction": 4}}
    torch.manual_seed(0)
    vanilla = build_model(ArchConfig.from_dict(data, check_fits=False)).eval()
    dca = build_model(ArchConfig.from_dict({**data, "connection": {"type": function, "alpha_init": 0.0}},
                                           check_fits=False)).eval()
    state = {k.replace(".attention.", "."): v for k, v in dca.state_dict().items()}
    state.update(vanilla.state_dict())
    dca.load_state_dict({k: state[k.replace(".attention.", ".")] for k in dca.state_dict()})
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        if function == "direct":
            assert torch.equal(dca(x), vanilla(x))
        else:                                             # G^2 / G is G up to rounding
            assert torch.allclose(dca(x), vanilla(x), atol=1e-6)
        for name, p in dca.named_parameters():
            if name.endswith(("alpha.channel",)):
                p.fill_(1.0)
        assert not torch.allclose(dca(x), vanilla(x))


def test_model_trains_through_connections():
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 14},
                                 "attention": {"type": "cbam", "reduction": 4},
                                 "connection": {"type": "softmax", "channel_match": "fc2", "reduction": 4}},
                                check_fits=False)
    model = build_model(arch)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    alphas = [p for n, p in model.named_parameters() if ".alpha." in n]
    assert len(alphas) == 2 * 5 and all(p.grad is not None for p in alphas)   # 6 blocks, 5 links, 2 dims


def test_bad_settings_teach():
    base = {"backbone": {"type": "resnet_cifar", "depth": 14}, "attention": "se"}
    with pytest.raises(AttnasError, match=r"connection.dims: 'spatial' is not allowed .*allowed: all, channel"):
        ArchConfig.from_dict({**base, "connection": {"type": "direct", "dims": "spatial"}})
    with pytest.raises(AttnasError, match="connection.reduction: 0"):
        ArchConfig.from_dict({**base, "connection": {"type": "direct", "channel_match": "fc2", "reduction": 0}})
    with pytest.raises(AttnasError, match="connection.channel_match"):
        ArchConfig.from_dict({**base, "connection": {"type": "direct", "channel_match": "fc3"}})


# Table 1 of 002 (ImageNet, 1000 classes). The published vanilla-attention counts are matched by the backbone
# presets; these are the DCA models. Notes on the paper's own numbers:
# - DCA-GC (28.63M) only fits 2-FC matching, although the text says 1 FC is used "in all our experiments".
# - SE-MobileNetV2 3.56M -> DCA 3.60M: the 1-FC matching of its 16->24->32->64->96->160->320 channels alone
#   adds 0.077M, so the published +0.04M is inconsistent; the preset keeps 1 FC and the count is held exactly.
PUBLISHED = [("dca-se-resnet50", 30.90e6), ("dca-cbam-resnet50", 30.90e6), ("dca-sk-resnet50", 37.48e6),
             ("dca-ge-resnet50", 28.84e6), ("dca-gc-resnet50", 28.63e6), ("dca-se-mnasnet1.0", 4.48e6),
             ("dca-cbam-mnasnet1.0", 4.56e6), ("dca-ge-mnasnet1.0", 4.53e6), ("dca-cbam-mobilenetv2", 3.65e6),
             ("dca-ge-mobilenetv2", 3.63e6)]


@pytest.mark.parametrize("name, published", PUBLISHED)
def test_published_counts(name, published):
    assert abs(params(preset(name)) - published) / published < 0.01


def test_dca_se_mobilenetv2_count_is_se_plus_matching():
    widths = [16, 24, 32, 64, 96, 160, 320]
    matching = sum(a * b + b for a, b in zip(widths, widths[1:]))
    alphas = 17 - 1                                   # 17 inverted residual blocks with SE
    se = changed("dca-se-mobilenetv2", connection={"type": "none"})
    assert params(preset("dca-se-mobilenetv2")) == params(se) + matching + alphas


def test_two_fc_matching_count():
    """Table 4: 2 FC (r=16) on SE-ResNet-50 is 28.65M (hidden width C/r of the current block, as the authors'
    code; the text's C'/r would give 28.35M)."""
    arch = changed("dca-se-resnet50", connection={"type": "direct", "channel_match": "fc2", "reduction": 16})
    assert abs(params(arch) - 28.65e6) / 28.65e6 < 0.01


def test_softmax_connection_broadcasts_an_unscaled_prior():
    """CBAM with a tanh gate hands on T~ (B, C, 1, 1) unscaled; Eq. 6 broadcasts it per image against G
    (B, 2, C, 1, 1) as Eq. 4-5 do (torch.stack alone would reject the two shapes)."""
    g, p = torch.randn(3, 2, 8, 1, 1), per_image(torch.randn(3, 8, 1, 1), 5)
    eg, ep = torch.exp(-g), torch.exp(-p)
    assert torch.allclose(softmax(g, p), eg / (eg + ep) * g + ep / (eg + ep) * p, atol=1e-6)


def test_per_image_keeps_the_batch_on_axis_0():
    t = torch.randn(3, 8, 1, 1)
    assert per_image(t, 5).shape == (3, 1, 8, 1, 1) and per_image(t, 4) is t
    assert torch.equal(per_image(t, 5)[:, 0], t)


def link_cases():
    """Every connectable attention x connection function, with a scaled (sigmoid) and, where the module has a
    gate, an unscaled (tanh) transformation; GE also with a local extent (its G is a spatial map)."""
    for att in CONNECTABLE:
        specs = keyword_params(ATTENTION.get(att))
        variants = [{}] + ([{"gate": "tanh"}] if "gate" in specs else []) \
            + ([{"variant": "theta", "extent": 2}] if "extent" in specs else [])
        for function in [c for c in CONNECTIONS.names() if c != "none"]:
            for given in variants:
                tag = "-".join(f"{k}{v}" for k, v in given.items()) or "default"
                yield pytest.param(att, function, given, id=f"{att}-{function}-{tag}")


CONNECTABLE = [n for n in ATTENTION.names() if ATTENTION.get(n).connectable]


@pytest.mark.parametrize("attention, function, given", list(link_cases()))
def test_links_of_every_shape_run_at_any_batch_and_mix_no_images(attention, function, given):
    """Batches 3 and 5 (no channel or spatial size of the model) on a non-square 20x12 input through three
    stages (channel matching and pooling at each boundary): train-mode forward and backward reach every alpha,
    and in eval mode each image's output is the one it gets alone, so no link broadcasts over the batch (a
    batch-2 model could run while mixing images, as DCA-CBAM did)."""
    small = {k: v for k, v in {"reduction": 2, "min_width": 4}.items() if k in keyword_params(ATTENTION.get(attention))}
    arch = ArchConfig.from_dict({"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "num_classes": 7,
                                 "input_size": [3, 20, 12], "attention": {"type": attention, **small, **given},
                                 "connection": {"type": function, "dims": "all"}})
    torch.manual_seed(0)
    model = build_model(arch)
    for batch in (3, 5):
        out = model.train()(torch.randn(batch, 3, 20, 12))
        assert out.shape == (batch, 7)
        model.zero_grad()
        out.square().mean().backward()
        alphas = [p for n, p in model.named_parameters() if ".alpha." in n]
        assert alphas and all(p.grad is not None and torch.isfinite(p.grad).all() for p in alphas)
    x = torch.randn(5, 3, 20, 12)
    with torch.no_grad():
        model.eval()
        alone = torch.cat([model(x[i:i + 1]) for i in range(5)])
        assert torch.allclose(model(x), alone, atol=1e-5)
        assert torch.allclose(model(x[:3]), alone[:3], atol=1e-5)
