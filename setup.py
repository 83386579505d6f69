"""Install sa_mmdet. Use ``bash tools/install.sh`` for the whole tested stack.

mmcv is required as ``mmcv>=2.0.0,<2.2.0`` so that an mmcv 2.1.x compiled with
ops (see tools/install.sh) satisfies it and pip never tries to build mmcv in an
isolated environment (which has no torch and builds without ops).

The CPU kernel of the Shuffle Attention operator (``sa_mmdet._ext``, sources
in ``sa_mmdet/ops/csrc``) is built when torch is importable at build time
(install with ``pip install --no-build-isolation``); ``SA_MMDET_WITH_OPS=0``
skips it. Without it sa_mmdet runs the same function in pure PyTorch.

The configs, tools and model index are shipped inside the package under
``sa_mmdet/.mim`` as OpenMMLab packages do, so that ``mim search sa_mmdet``
lists the models and a config can inherit ``sa_mmdet::sa_resnet/...``:
symlinks for an editable install, copies for a wheel or an sdist.
"""

import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup


def read_version() -> str:
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'sa_mmdet', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


EXTRAS = ('tests', 'pretrain', 'deploy', 'triton')


def read_requirements(name: str) -> list:
    """The requirements listed in ``requirements/NAME.txt``."""
    with open(osp.join(osp.dirname(__file__), 'requirements', f'{name}.txt')) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def ext_modules_and_cmdclass() -> tuple:
    """The ``sa_mmdet._ext`` CppExtension and its build command, or nothing."""
    if os.getenv('SA_MMDET_WITH_OPS', '1') == '0':
        print(
            'sa_mmdet: SA_MMDET_WITH_OPS=0, not building the CPU kernel sa_mmdet._ext',
            file=sys.stderr,
        )
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print(
            'sa_mmdet: torch is not importable at build time, not building the CPU kernel '
            'sa_mmdet._ext (install with pip install --no-build-isolation to build it)',
            file=sys.stderr,
        )
        return [], {}
    csrc = osp.join('sa_mmdet', 'ops', 'csrc')
    sources = [
        osp.join(csrc, 'pybind.cpp'),
        osp.join(csrc, 'cpu', 'shuffle_attention_cpu.cpp'),
        osp.join(csrc, 'cpu', 'roi_align_cpu.cpp'),
    ]
    # -fopenmp, -fno-math-errno, -fno-trapping-math as in torch's own build (torch's
    # at::parallel_for runs on its OpenMP pool; the math flags let the loops vectorise)
    ext = CppExtension(
        'sa_mmdet._ext',
        sources,
        include_dirs=[osp.abspath(csrc)],
        extra_compile_args={'cxx': ['-O3', '-fopenmp', '-fno-math-errno', '-fno-trapping-math']},
        extra_link_args=['-fopenmp'],
    )
    return [ext], {'build_ext': BuildExtension}


MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension() -> None:
    """Put the configs, tools and model index into ``sa_mmdet/.mim``.

    As mmdet's setup.py: symlinks for an editable install, copies when a
    wheel or an sdist is built, nothing for other commands.
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'symlink'
    elif {'bdist_wheel', 'sdist'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    repo = osp.dirname(osp.abspath(__file__))
    mim = osp.join(repo, 'sa_mmdet', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(repo, name), osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(src, dst)


add_mim_extension()
ext_modules, cmdclass = ext_modules_and_cmdclass()

setup(
    name='sa_mmdet',
    version=read_version(),
    description='Shuffle Attention (SA-Net) backbones for MMDetection',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=['sa_mmdet', 'sa_mmdet.*']),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.4',  # torch.library.custom_op, register_fake, register_autograd
        'mmengine>=0.10.0,<1.0.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.3.0,<3.4.0',
        'numpy',
        'Pillow',  # image headers of the checked datasets
        'pycocotools',
    ],
    # tests (pytest, pytest-xdist, ruff), pretrain (mmpretrain, ImageNet pretraining), deploy
    # (ONNX export and onnxruntime), triton (the SA operator's CUDA kernels)
    extras_require={name: read_requirements(name) for name in EXTRAS},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
