"""Run this checkout's command-line tools with the test's Python and sa_mmdet."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / 'tests'
CONVERTER = REPO / 'tools' / 'model_converters' / 'sanet2mmdet.py'


def run_python(*args, timeout: int = 600, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """``python ARGS`` from the repository root, importing this checkout's sa_mmdet.

    The command runs in a session of its own, so a test may kill its process group.

    Args:
        *args: Arguments of ``python``.
        timeout (int): Seconds before the run is stopped. Defaults to 600.
        env (dict, optional): Extra environment variables; a ``PYTHONPATH``
            entry goes before the repository. Defaults to None.
    """
    extra = {k: str(v) for k, v in (env or {}).items()}
    path = [extra.pop('PYTHONPATH', ''), str(REPO), os.environ.get('PYTHONPATH', '')]
    full_env = dict(os.environ, **extra, PYTHONPATH=os.pathsep.join(filter(None, path)))
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def run_converter(*args) -> subprocess.CompletedProcess:
    """``tools/model_converters/sanet2mmdet.py ARGS``."""
    return run_python(CONVERTER, *args, timeout=300)


def import_tool(path: str) -> ModuleType:
    """Import a tool script, e.g. ``'tools/analysis_tools/complexity.py'``, to call in-process.

    Args:
        path (str): The script's path relative to the repository root.

    Returns:
        ModuleType: The script as a module (``__name__`` is not ``'__main__'``).
    """
    spec = importlib.util.spec_from_file_location(Path(path).stem + '_tool', REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
