"""How far two runs of an end2end detector differ, detection by detection.

Runtimes round differently, so detections of nearly equal scores may swap
rows: :func:`compare_detections` matches them (same label, best IoU) instead of rows.
"""

from typing import NamedTuple, Sequence, Union

import numpy as np
from torch import Tensor

Array = Union[Tensor, np.ndarray]


class DetectionDiff(NamedTuple):
    """Differences between the expected and the checked detections of a batch."""

    expected: int  #: detections expected (rows with label >= 0)
    got: int  #: detections found
    unmatched: int  #: expected ones without a match (same label, IoU >= min_iou)
    score: float  #: largest score difference of a matched pair
    box: float  #: largest coordinate difference of a matched pair, in pixels
    mask: float  #: largest mask probability difference of a matched pair (0 without masks)

    def ok(self, tolerance: float) -> bool:
        """Same count, all matched, scores and masks within ``tolerance``."""
        same = self.expected == self.got and self.unmatched == 0
        return same and self.score <= tolerance and self.mask <= tolerance

    def __str__(self) -> str:
        return (
            f'{self.expected} detections in PyTorch, {self.got} in onnxruntime, '
            f'{self.unmatched} unmatched, max difference: score {self.score:.3g}, '
            f'box {self.box:.3g} px, mask {self.mask:.3g}'
        )


def to_numpy(x: Array) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(-1), (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def compare_detections(
    expected: Sequence[Array], got: Sequence[Array], min_iou: float = 0.99
) -> DetectionDiff:
    """Match ``got`` to ``expected`` detections image by image.

    Args:
        expected (Sequence[Tensor | np.ndarray]): ``dets`` (N, K, 5),
            ``labels`` (N, K) and optionally ``masks`` (N, K, h, w) of the
            reference run; rows with label -1 are padding.
        got (Sequence[Tensor | np.ndarray]): The same outputs of the run to check.
        min_iou (float): Least IoU of a match. Defaults to 0.99.

    Returns:
        DetectionDiff: Counts and the largest differences of matched pairs.
    """
    expected, got = [to_numpy(x) for x in expected], [to_numpy(x) for x in got]
    count_expected = count_got = unmatched = 0
    score = box = mask = 0.0
    for i in range(len(expected[0])):
        want_rows, got_rows = np.flatnonzero(expected[1][i] >= 0), np.flatnonzero(got[1][i] >= 0)
        count_expected, count_got = count_expected + len(want_rows), count_got + len(got_rows)
        if len(got_rows) == 0:
            unmatched += len(want_rows)
            continue
        iou = _iou(expected[0][i][want_rows, :4], got[0][i][got_rows, :4])
        iou *= expected[1][i][want_rows, None] == got[1][i][None, got_rows]
        best = iou.argmax(1)
        matched = iou.max(1) >= min_iou
        unmatched += int((~matched).sum())
        pairs = want_rows[matched], got_rows[best[matched]]
        if len(pairs[0]) == 0:
            continue
        diff = np.abs(expected[0][i][pairs[0]] - got[0][i][pairs[1]])
        score, box = max(score, float(diff[:, 4].max())), max(box, float(diff[:, :4].max()))
        if len(expected) > 2:
            mask_diff = np.abs(expected[2][i][pairs[0]] - got[2][i][pairs[1]])
            mask = max(mask, float(mask_diff.max()))
    return DetectionDiff(count_expected, count_got, unmatched, score, box, mask)
