"""ONNX export with dynamic batch and image size, an onnxruntime runner and graph checks.

Both torch exporters work: ``'dynamo'`` (torch.export-based, torch's default)
and ``'legacy'`` (the TorchScript tracer, what mmdeploy uses). SA exports as
standard ops (:mod:`sa_mmdet.ops.shuffle_attention_export`), RoIAlign and NMS as
ONNX ``RoiAlign`` and ``NonMaxSuppression``. onnx and onnxruntime (the ``deploy``
extra) are imported when used.
"""

import collections
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from .detection_diff import Array, to_numpy
from .nms_export import ONNX_TRANSLATIONS as NMS_TRANSLATIONS
from .roi_align_export import ONNX_TRANSLATIONS as ROI_ALIGN_TRANSLATIONS
from .roi_align_export import ROI_ALIGN_OPSET

EXPORTERS = ('dynamo', 'legacy')
#: Dynamic axes of an image batch (N, 3, H, W).
IMAGE_AXES = {0: 'batch', 2: 'height', 3: 'width'}
#: Dynamic axes of RoIs (R, 5).
ROI_AXES = {0: 'num_rois'}
#: Translations of sa_mmdet's ops for the dynamo exporter.
ONNX_TRANSLATIONS = {**ROI_ALIGN_TRANSLATIONS, **NMS_TRANSLATIONS}
#: ONNX opset of the legacy exporter here (ONNX RoiAlign's half_pixel needs 16).
LEGACY_OPSET = max(17, ROI_ALIGN_OPSET)


def export_onnx(
    model: nn.Module,
    args: Sequence[Tensor],
    path: Union[str, Path],
    exporter: str = 'dynamo',
    input_names: Optional[Sequence[str]] = None,
    output_names: Optional[Sequence[str]] = None,
    dynamic_axes: Optional[Sequence[Optional[Dict[int, str]]]] = None,
    strict: bool = False,
) -> Path:
    """Export ``model(*args)`` to an ONNX file (weights inside).

    Args:
        model (nn.Module): The model, in eval mode.
        args (Sequence[Tensor]): Example inputs.
        path (str | Path): The ONNX file to write.
        exporter (str): ``'dynamo'`` or ``'legacy'``. Defaults to ``'dynamo'``.
        input_names (Sequence[str], optional): Defaults to ``input``, ``input1``, ...
        output_names (Sequence[str], optional): Defaults to ``output0``, ...
        dynamic_axes (Sequence[dict | None], optional): Per input, its dynamic
            axes ``{dim: name}`` or None (static). Defaults to all static.
        strict (bool): dynamo only: capture with ``torch.export``'s strict mode,
            which specialises dims of example size 1 (give a batch of 2 or more).
            Defaults to False.

    Returns:
        Path: ``path``.

    Raises:
        ValueError: For an unknown exporter or a model in training mode.
        Exception: What the exporter raises for a model it cannot export; no file is written.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'invalid exporter {exporter!r}: use one of {EXPORTERS}.')
    if model.training:
        raise ValueError('export_onnx exports inference graphs: call model.eval() first.')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = tuple(args)
    input_names = list(input_names or ['input'] + [f'input{i}' for i in range(1, len(args))])
    dynamic_axes = list(dynamic_axes or [None] * len(args))
    with torch.no_grad():  # on copies: a layer may write into its input in eager mode
        outputs = model(*(a.clone() for a in args))
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    output_names = list(output_names or [f'output{i}' for i in range(len(outputs))])
    with torch.no_grad():
        if exporter == 'legacy':
            axes = {n: a for n, a in zip(input_names, dynamic_axes) if a}
            if axes:  # then every output dim but the channels is dynamic too
                for out, name in zip(outputs, output_names):
                    dims = [0, *range(2, out.dim())]
                    axes[name] = {d: f'{name}_dim{d}' for d in dims}
            torch.onnx.export(
                model,
                args,
                str(path),
                dynamo=False,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=axes or None,
                opset_version=LEGACY_OPSET,
            )
            return path
        shapes = tuple(dict(a) if a else None for a in dynamic_axes)
        if strict:
            shapes = tuple({d: torch.export.Dim.DYNAMIC for d in a} if a else None for a in shapes)
            model = torch.export.export(model, args, dynamic_shapes=shapes, strict=True)
        onnx_program = torch.onnx.export(
            model,
            args,
            dynamo=True,
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=None if strict else shapes,
            custom_translation_table=ONNX_TRANSLATIONS,
            verbose=False,
        )
        onnx_program.save(str(path), external_data=False)
    return path


def onnx_op_histogram(path: Union[str, Path]) -> collections.Counter:
    """Count the ops of an ONNX file (main graph and functions) by type."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
    return collections.Counter(node.op_type for node in nodes)


def onnx_dims(path: Union[str, Path]) -> Dict[str, List[Union[int, str]]]:
    """``{input_name: dims}`` of an ONNX file: an int per static dim, a name per dynamic one."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in graph.input
    }


class ONNXRuntimeRunner:
    """Run an ONNX file with onnxruntime on the CPU; call it with one array per graph input.

    Args:
        path (str | Path): The ONNX file.
        threads (int, optional): Intra-op threads; None lets onnxruntime choose.
    """

    def __init__(self, path: Union[str, Path], threads: Optional[int] = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=['CPUExecutionProvider']
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, *inputs: Array) -> List[np.ndarray]:
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f'the graph takes {len(self.input_names)} inputs {self.input_names}, '
                f'but got {len(inputs)}.'
            )
        return self.session.run(None, dict(zip(self.input_names, map(to_numpy, inputs))))


def relative_difference(expected: Sequence[Array], got: Sequence[Array]) -> float:
    """Largest ``max|got - expected| / max|expected|`` over pairs of outputs.

    Args:
        expected (Sequence[Tensor | np.ndarray]): Reference outputs (PyTorch).
        got (Sequence[Tensor | np.ndarray]): Outputs to check (onnxruntime).

    Returns:
        float: The worst relative difference (absolute where a reference is all zeros).

    Raises:
        ValueError: If the numbers or shapes of the outputs differ.
    """
    if len(expected) != len(got):
        raise ValueError(f'expected {len(expected)} outputs, got {len(got)}.')
    worst = 0.0
    for i, (want, have) in enumerate(zip(map(to_numpy, expected), map(to_numpy, got))):
        if want.shape != have.shape:
            raise ValueError(f'output {i}: expected shape {want.shape}, got {have.shape}.')
        if want.size == 0:
            continue
        diff = float(np.abs(have.astype(np.float64) - want).max())
        scale = float(np.abs(want).max())
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst
