import torch

from trainers.augment import augment, random_crop, random_flip


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_and_determinism():
    x = torch.randn(16, 3, 10, 10)
    a, b = augment(x, _gen(3), 2, True), augment(x, _gen(3), 2, True)
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, augment(x, _gen(4), 2, True))
    assert torch.equal(augment(x, _gen(), 0, False), x)


def test_crop_is_a_per_image_shift_of_the_zero_padded_image():
    x = torch.arange(1, 8 * 1 * 6 * 6 + 1, dtype=torch.float).view(8, 1, 6, 6)
    out = random_crop(x, 2, _gen(1))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    shifts = set()
    for i in range(8):
        found = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 6])]
        assert found, f"image {i} is not a window of its padded self"
        shifts.add(found[0])
    assert len(shifts) > 1  # offsets differ between images


def test_flip_mirrors_about_half():
    x = torch.randn(400, 2, 4, 5)
    out = random_flip(x, _gen(0))
    flipped = torch.tensor([torch.equal(out[i], x[i].flip(2)) for i in range(400)])
    kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(400)])
    assert bool((flipped | kept).all()) and 150 < int(flipped.sum()) < 250
