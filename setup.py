"""Install sa_mmdet. Use ``bash tools/install.sh`` for the whole tested stack.

mmcv is required as ``mmcv>=2.0.0,<2.2.0`` so that an mmcv 2.1.x compiled with
ops (see tools/install.sh) satisfies it and pip never tries to build mmcv in an
isolated environment (which has no torch and builds without ops).

The CPU kernel of the fast Shuffle Attention (``sa_mmdet._ext``, sources in
``sa_mmdet/csrc``) is built when torch is importable at build time (install
with ``pip install --no-build-isolation``); ``SA_MMDET_WITH_OPS=0`` skips it.
Without it sa_mmdet runs the same function in pure PyTorch.
"""
import os
import os.path as osp
import sys

from setuptools import find_packages, setup


def read_version() -> str:
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'sa_mmdet', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def ext_modules_and_cmdclass() -> tuple:
    """The ``sa_mmdet._ext`` CppExtension and its build command, or nothing."""
    if os.getenv('SA_MMDET_WITH_OPS', '1') == '0':
        print('sa_mmdet: SA_MMDET_WITH_OPS=0, not building the CPU kernel sa_mmdet._ext',
              file=sys.stderr)
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print('sa_mmdet: torch is not importable at build time, not building the CPU kernel '
              'sa_mmdet._ext (install with pip install --no-build-isolation to build it)',
              file=sys.stderr)
        return [], {}
    csrc = osp.join('sa_mmdet', 'csrc')
    sources = [osp.join(csrc, name) for name in ('pybind.cpp', 'shuffle_attention_cpu.cpp')]
    # -fopenmp, -fno-math-errno, -fno-trapping-math as in torch's own build (torch's
    # at::parallel_for runs on its OpenMP pool; the math flags let the loops vectorise)
    ext = CppExtension('sa_mmdet._ext', sources, include_dirs=[osp.abspath(csrc)],
                       extra_compile_args={'cxx': ['-O3', '-fopenmp', '-fno-math-errno', '-fno-trapping-math']},
                       extra_link_args=['-fopenmp'])
    return [ext], {'build_ext': BuildExtension}


ext_modules, cmdclass = ext_modules_and_cmdclass()

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
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
