"""CSM (seed paper 004): CAM (Eq. 3-4), SAM (Eq. 5, 2) and their order; SAM alone (Table I)."""
import pytest
import torch

from search_space.errors import AttnasError


def eq5(sam, a):
    b, c, d = sam.b(a).flatten(2), sam.c(a).flatten(2), sam.d(a).flatten(2)
    s = torch.einsum("nki,nkj->nij", b, c)                                        # S_ij = B_i . C_j
    mij = torch.exp(s) / torch.exp(s).sum(1, keepdim=True)                        # normalised over i (Eq. 5)
    return torch.einsum("nci,nij->ncj", d, mij).view(a.shape)


def test_defaults_are_the_text_b_c_of_c_channels_and_no_residual(make):
    """'{B, C, D} in R^{C x H x W}' and Eq. 2 without DANet's gamma-residual."""
    cam, sam = make("csm", 8).body
    assert sam.b.out_channels == sam.c.out_channels == sam.d.out_channels == 8 and sam.gamma is None
    a = torch.randn(2, 8, 3, 4)
    torch.testing.assert_close(sam(a), eq5(sam, a), rtol=1e-4, atol=1e-5)


def test_sam_alone_is_csms_spatial_module(make):
    m = make("sam", 8)
    a = torch.randn(2, 8, 3, 4)
    torch.testing.assert_close(m(a), eq5(m.sam, a), rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in m.parameters()) == 3 * (8 * 8 + 8)


def test_sam_equals_eq5(make):
    m = make("csm", 8, reduction=2, qk_reduction=2, residual=True)
    cam, sam = m.body
    sam.gamma.data.fill_(0.7)
    a = torch.randn(2, 8, 3, 4)
    b, c, d = sam.b(a).flatten(2), sam.c(a).flatten(2), sam.d(a).flatten(2)
    s = torch.einsum("nki,nkj->nij", b, c)                                        # S_ij = B_i . C_j
    mij = torch.exp(s) / torch.exp(s).sum(1, keepdim=True)                        # normalised over i (Eq. 5)
    e = torch.einsum("nci,nij->ncj", d, mij).view(2, 8, 3, 4)
    torch.testing.assert_close(sam(a), 0.7 * e + a, rtol=1e-4, atol=1e-5)
    assert b.shape[1] == 4


def test_cam_equals_eq3_4_and_sam_with_residual_starts_as_identity(make):
    m = make("csm", 8, reduction=2, residual=True)
    cam, sam = m.body
    x = torch.randn(2, 8, 3, 3)
    w = torch.sigmoid(cam.fc2(torch.relu(cam.fc1(x.mean((2, 3), keepdim=True)))))
    torch.testing.assert_close(m(x), x * w)                                       # gamma = 0 at init


def test_order_changes_output(make):
    cam_sam = make("csm", 8, reduction=2, order="cam_sam", residual=True)
    sam_cam = make("csm", 8, reduction=2, order="sam_cam", residual=True)
    sam_cam.load_state_dict({k.replace("body.0", "body.x").replace("body.1", "body.0").replace("body.x", "body.1"): v
                             for k, v in cam_sam.state_dict().items()})
    for m in (cam_sam, sam_cam):
        next(mod for mod in m.body if hasattr(mod, "gamma")).gamma.data.fill_(1.0)
    x = torch.randn(2, 8, 4, 4)
    assert not torch.allclose(cam_sam(x), sam_cam(x), atol=1e-4)


def test_qk_reduction_larger_than_channels_floors_at_one(make):
    _, sam = make("csm", 8, reduction=2, qk_reduction=16).body
    assert sam.b.out_channels == sam.c.out_channels == 1
    with pytest.raises(AttnasError, match=r"^attention\.qk_reduction: 0 is not allowed; allowed: an integer >= 1"):
        make("csm", 8, qk_reduction=0)
