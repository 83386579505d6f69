"""Run this checkout's command-line tools with the test's Python and sa_mmdet."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONVERTER = REPO / 'tools' / 'model_converters' / 'sanet2mmdet.py'


def run_python(*args, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python ARGS`` from the repository root, importing this checkout's sa_mmdet."""
    path = os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])
    env = dict(os.environ, PYTHONPATH=path)
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_converter(*args) -> subprocess.CompletedProcess:
    """``tools/model_converters/sanet2mmdet.py ARGS``."""
    return run_python(CONVERTER, *args, timeout=300)
