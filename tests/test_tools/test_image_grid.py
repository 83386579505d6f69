"""tools/misc/image_grid.py lays images out in rows."""

import cv2
import numpy as np
import pytest


def test_image_grid_places_images_row_by_row(tmp_path, import_tool):
    tool = import_tool('tools/misc/image_grid.py')
    images = [np.full((10, 20, 3), value, np.uint8) for value in (10, 20, 30)]
    grid = tool.image_grid(images, cols=2, pad=4)
    assert grid.shape == (2 * 10 + 4, 2 * 20 + 4, 3)
    assert (grid[:10, :20] == 10).all() and (grid[:10, 24:] == 20).all()
    assert (grid[14:, :20] == 30).all() and (grid[14:, 24:] == 255).all()  # empty cell
    paths = []
    for i, img in enumerate(images):
        paths.append(str(tmp_path / f'{i}.png'))
        cv2.imwrite(paths[-1], img)
    out = str(tmp_path / 'grid.png')
    tool.main([*paths, '--cols', '3', '--out', out])
    assert cv2.imread(out).shape == (10, 3 * 20 + 2 * 4, 3)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        tool.main([str(tmp_path / 'missing.png'), '--out', out])
    with pytest.raises(ValueError, match='cols'):
        tool.image_grid(images, cols=0)
