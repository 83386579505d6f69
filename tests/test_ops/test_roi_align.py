"""sa_mmdet's RoIAlign op and FastSingleRoIExtractor against mmcv's RoIAlign (the reference)."""

import pytest
import torch
from mmcv.ops import RoIPool
from mmcv.ops import roi_align as mmcv_roi_align
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from sa_mmdet.models import FastSingleRoIExtractor
from sa_mmdet.ops import RoIAlign, roi_align, sa_ext_available, sa_kernel_enabled

needs_kernel = pytest.mark.skipif(
    not sa_ext_available(),
    reason='sa_mmdet._ext is not built; build it with python setup.py build_ext --inplace',
)


def make_rois(num_images, num_rois, height, width, scale, seed=0, dtype=torch.float32):
    """RoIs in input pixels, some reaching outside the image, some tiny, one empty."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height]) / scale
    xy = torch.rand(num_rois, 2, generator=gen) * size * 1.2 - 0.1 * size
    wh = torch.rand(num_rois, 2, generator=gen) ** 2 * size * 0.6
    wh[0] = 0  # a box of zero size
    batch = torch.randint(0, num_images, (num_rois, 1), generator=gen).float()
    return torch.cat([batch, xy, xy + wh], 1).to(dtype)


def pooled_and_grad(fn, features, rois, upstream_seed=1):
    features = features.detach().clone().requires_grad_()
    out = fn(features, rois)
    gen = torch.Generator().manual_seed(upstream_seed)
    upstream = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    (grad,) = torch.autograd.grad(out, features, upstream)
    return out, grad


# (N, C, H, W), RoIs, output size, spatial scale, sampling ratio, aligned
CASES = [
    ((4, 32, 32, 32), 64, (7, 7), 0.25, 2, True),  # the toy Faster R-CNN's bbox RoIs
    ((2, 16, 13, 17), 40, (14, 14), 0.125, 0, True),  # adaptive sampling (Mask R-CNN)
    ((2, 8, 9, 11), 30, (5, 3), 0.5, 0, False),  # mmcv's legacy unaligned mode
    ((1, 3, 1, 1), 5, (2, 2), 1.0, 1, True),  # a 1x1 map
]


@needs_kernel
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('shape,num_rois,output_size,scale,ratio,aligned', CASES)
def test_equals_mmcv_bit_for_bit(shape, num_rois, output_size, scale, ratio, aligned, dtype):
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(shape, generator=gen, dtype=dtype)
    rois = make_rois(shape[0], num_rois, shape[2], shape[3], scale, dtype=dtype)

    def ours(f, r):
        return roi_align(f, r, output_size, scale, ratio, aligned)

    def mmcv(f, r):
        return mmcv_roi_align(f, r, output_size, scale, ratio, 'avg', aligned)

    for got, expected in zip(
        pooled_and_grad(ours, features, rois), pooled_and_grad(mmcv, features, rois)
    ):
        assert got.dtype == dtype
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


@needs_kernel
def test_the_same_for_any_number_of_threads():
    features = torch.randn(2, 64, 24, 24)
    rois = make_rois(2, 200, 24, 24, 0.25)

    def ours(f, r):
        return roi_align(f, r, (7, 7), 0.25, 2, True)

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = pooled_and_grad(ours, features, rois)
        torch.set_num_threads(3)
        three = pooled_and_grad(ours, features, rois)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, three):
        assert torch.equal(a, b)


def test_falls_back_to_mmcv_where_the_kernel_does_not_apply():
    features = torch.randn(2, 8, 16, 16)
    rois = make_rois(2, 20, 16, 16, 0.25)

    def ours(f, r):
        return roi_align(f, r, (7, 7), 0.25, 2, True)

    def mmcv(f, r):
        return mmcv_roi_align(f, r, (7, 7), 0.25, 2, 'avg', True)

    expected = pooled_and_grad(mmcv, features, rois)
    with sa_kernel_enabled(False):
        disabled = pooled_and_grad(ours, features, rois)
    # a non-contiguous input is made contiguous, then takes the kernel
    strided = pooled_and_grad(ours, features.transpose(2, 3).contiguous().transpose(2, 3), rois)
    for a, b in zip(disabled, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(strided, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@needs_kernel
def test_no_rois():
    features = torch.randn(2, 8, 16, 16, requires_grad=True)
    out = roi_align(features, torch.zeros(0, 5), (7, 7), 0.25, 2, True)
    assert out.shape == (0, 8, 7, 7)
    (grad,) = torch.autograd.grad(out.sum(), features)
    assert torch.equal(grad, torch.zeros_like(features))


@needs_kernel
@pytest.mark.parametrize(
    'roi,words',
    [
        ([2.0, 0, 0, 8, 8], 'RoI 1 has batch index 2 but the input has 2 images'),
        ([-1.0, 0, 0, 8, 8], 'RoI 1 has batch index -1 '),
        ([0.0, 8, 0, 4, 8], 'RoI 1 has x2 < x1 or y2 < y1'),
    ],
)
def test_bad_rois_raise_naming_the_roi(roi, words):
    rois = torch.tensor([[0.0, 0, 0, 8, 8], roi])
    with pytest.raises(RuntimeError, match=words):
        roi_align(torch.randn(2, 4, 8, 8), rois, (2, 2), 0.5, 2, True)


@needs_kernel
def test_opcheck():
    features = torch.randn(2, 4, 9, 10, requires_grad=True)
    rois = make_rois(2, 6, 9, 10, 0.5)
    args = (features, rois, [3, 2], 0.5, 2, True)
    torch.library.opcheck(torch.ops.sa_mmdet.roi_align.default, args)
    grad = torch.randn(6, 4, 3, 2)
    torch.library.opcheck(
        torch.ops.sa_mmdet.roi_align_backward.default, (grad, rois, [2, 4, 9, 10], 0.5, 2, True)
    )


def extractor_cfg(roi_layer, extractor='FastSingleRoIExtractor'):
    return dict(type=extractor, roi_layer=roi_layer, out_channels=8, featmap_strides=[4, 8])


def test_extractor_builds_sa_mmdet_roi_align_and_equals_mmdet():
    roi_layer = dict(type='RoIAlign', output_size=7, sampling_ratio=0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        fast = MODELS.build(extractor_cfg(roi_layer))
        mmdet = MODELS.build(extractor_cfg(roi_layer, 'SingleRoIExtractor'))
    assert type(fast) is FastSingleRoIExtractor
    assert isinstance(fast, SingleRoIExtractor)
    assert all(type(layer) is RoIAlign for layer in fast.roi_layers)
    assert [layer.spatial_scale for layer in fast.roi_layers] == [0.25, 0.125]
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 8, 32, 32, generator=gen), torch.randn(2, 8, 16, 16, generator=gen)]
    # small RoIs go to the finer map, large ones to the coarser one
    rois = make_rois(2, 50, 32, 32, 0.25)
    outs = []
    for extractor in (fast, mmdet):
        leaves = [f.clone().requires_grad_() for f in feats]
        out = extractor(leaves, rois)
        outs.append([out, *torch.autograd.grad(out, leaves, torch.ones_like(out))])
    for got, expected in zip(*outs):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_extractor_keeps_other_roi_layers():
    with DefaultScope.overwrite_default_scope('mmdet'):
        fast = MODELS.build(extractor_cfg(dict(type='RoIPool', output_size=7)))
    assert all(type(layer) is RoIPool for layer in fast.roi_layers)
