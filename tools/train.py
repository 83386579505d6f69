"""Train a detector: mmdet's ``tools/train.py``, reading ``sa_mmdet::`` config names too.

``mim train sa_mmdet CONFIG [ARGS]`` runs this script; it takes every argument of
mmdet's (``--work-dir``, ``--resume``, ``--amp``, ``--cfg-options``, ``--launcher``).

Example:
    python tools/train.py configs/sa_resnet/faster-rcnn_sa-r50_fpn_1x_coco.py
"""

import os.path as osp
import runpy

from mmengine.utils import get_installed_path

from sa_mmdet.utils import register_config_package

if __name__ == '__main__':
    register_config_package()
    runpy.run_path(
        osp.join(get_installed_path('mmdet'), '.mim', 'tools', 'train.py'), run_name='__main__'
    )
