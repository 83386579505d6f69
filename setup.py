"""Install sa_mmdet. Use ``bash tools/install.sh`` for the whole tested stack.

mmcv is required as ``mmcv>=2.0.0,<2.2.0`` so that an mmcv 2.1.x compiled with
ops (see tools/install.sh) satisfies it and pip never tries to build mmcv in an
isolated environment (which has no torch and builds without ops).
"""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'sa_mmdet', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='sa_mmdet',
    version=read_version(),
    description='Shuffle Attention (SA-Net) backbones for MMDetection',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=['sa_mmdet', 'sa_mmdet.*']),
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.0',
        'mmengine>=0.10.0,<1.0.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.3.0,<3.4.0',
        'numpy',
        'pycocotools',
    ],
    extras_require={
        'tests': ['pytest'],
        # ImageNet pretraining (configs/imagenet, sa_mmdet.pretrain).
        'pretrain': ['mmpretrain==1.2.0'],
    },
    zip_safe=False,
)
