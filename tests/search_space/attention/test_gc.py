"""Global context block (Cao et al. 2019, Eq. 4) and its DCA hooks."""
import torch


def test_gc_equals_its_equation_and_is_additive(make, link):
    m = make("gc", 16, reduction=4)
    x = torch.randn(2, 16, 3, 5)
    k = torch.einsum("c,bchw->bhw", m.key.weight.view(16), x) + m.key.bias
    w = torch.softmax(k.flatten(1), 1)                                      # softmax over the 15 positions
    context = torch.einsum("bn,bcn->bc", w, x.flatten(2))[:, :, None, None]
    conv1, ln, act, conv2 = m.transform
    t = conv2(torch.relu(ln(conv1(context))))
    torch.testing.assert_close(m(x), x + t)                                 # fusion is a broadcast sum
    assert isinstance(ln, torch.nn.LayerNorm)
    rec = link()
    torch.testing.assert_close(m(x, rec), m(x))
    (dim, g, t_rec, scaled), = rec.records
    assert dim == "channel" and scaled is False
    torch.testing.assert_close(g, context)
    torch.testing.assert_close(t_rec, t)
