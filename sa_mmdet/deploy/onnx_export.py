"""ONNX export of SA models with dynamic batch and image size, an onnxruntime runner,
the graph's op histogram and the comparison with PyTorch.

Both of torch's exporters work: ``'dynamo'`` (``torch.onnx.export(...,
dynamo=True)``, torch.export-based, the default of torch >= 2.9) and
``'legacy'`` (``dynamo=False``, the TorchScript tracer, what mmdeploy uses).
Shuffle Attention exports as standard ops (ReduceMean, Sub, Mul, Sqrt,
Sigmoid, Reshape/Transpose for the shuffle; see
:mod:`sa_mmdet.ops.shuffle_attention_export`), RoIAlign as ONNX ``RoiAlign``
(:mod:`.roi_align_export`), NMS as ONNX ``NonMaxSuppression``
(:mod:`.nms_export`). onnx and onnxruntime are imported when used (the
``deploy`` extra).
"""

import collections
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

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


def _check_exporter(exporter: str) -> None:
    if exporter not in EXPORTERS:
        raise ValueError(f'invalid exporter {exporter!r}: use one of {EXPORTERS}.')


def _output_axes(outputs: Sequence[Tensor], names: Sequence[str]) -> Dict[str, Dict[int, str]]:
    """Dynamic axes of the outputs for the legacy exporter: all but the channels."""
    axes = {}
    for tensor, name in zip(outputs, names):
        dims = [0] + list(range(2, tensor.dim()))
        axes[name] = {d: f'{name}_dim{d}' for d in dims}
    return axes


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
    """Export ``model(*args)`` to an ONNX file.

    Args:
        model (nn.Module): The model, in eval mode (e.g. an SAResNet or a
            :class:`~.tensor_mode.TensorModeDetector`).
        args (Sequence[Tensor]): Example inputs.
        path (str | Path): The ONNX file to write (weights inside).
        exporter (str): ``'dynamo'`` or ``'legacy'``. Defaults to ``'dynamo'``.
        input_names (Sequence[str], optional): Defaults to ``input``,
            ``input1``, ...
        output_names (Sequence[str], optional): Defaults to ``output0``, ...
        dynamic_axes (Sequence[dict | None], optional): Per input, its
            dynamic axes ``{dim: name}``; None keeps an input static.
            Defaults to all static.
        strict (bool): dynamo only: capture with ``torch.export``'s strict
            mode (TorchDynamo) instead of the non-strict one; it specialises
            dynamic dims whose example size is 1, so give a batch of 2 or more.
            Defaults to False.

    Returns:
        Path: ``path``.

    Raises:
        ValueError: For an unknown exporter or a model in training mode.
        Exception: Whatever the exporter raises for a model it cannot export
            (e.g. a custom op without a translation); nothing is written then.
    """
    _check_exporter(exporter)
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
            if any(dynamic_axes):
                axes.update(_output_axes(outputs, output_names))
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
        else:
            program = model
            shapes = tuple(dict(a) if a else None for a in dynamic_axes)
            if strict:
                shapes_auto = tuple(
                    {d: torch.export.Dim.DYNAMIC for d in a} if a else None for a in dynamic_axes
                )
                program = torch.export.export(model, args, dynamic_shapes=shapes_auto, strict=True)
            onnx_program = torch.onnx.export(
                program,
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
    """Count the ops of an ONNX graph (main graph and functions), by type.

    Args:
        path (str | Path): The ONNX file.

    Returns:
        collections.Counter: ``{op_type: count}``.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
    return collections.Counter(node.op_type for node in nodes)


def onnx_dims(path: Union[str, Path]) -> Dict[str, List[Union[int, str]]]:
    """Shapes of the graph's inputs: an int per static dim, a name per dynamic one.

    Args:
        path (str | Path): The ONNX file.

    Returns:
        dict[str, list]: ``{input_name: dims}``.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in graph.input
    }


class ONNXRuntimeRunner:
    """Run an ONNX file with onnxruntime on the CPU.

    Args:
        path (str | Path): The ONNX file.
        threads (int, optional): Intra-op threads; None lets onnxruntime
            choose (all cores). Defaults to None.
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

    def __call__(self, *inputs: Union[Tensor, np.ndarray]) -> List[np.ndarray]:
        """Run the graph.

        Args:
            *inputs (Tensor | np.ndarray): One per graph input, in order.

        Returns:
            list[np.ndarray]: The outputs, in order.
        """
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f'the graph takes {len(self.input_names)} inputs {self.input_names}, '
                f'but got {len(inputs)}.'
            )
        feeds = {
            name: (x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x))
            for name, x in zip(self.input_names, inputs)
        }
        return self.session.run(None, feeds)


def relative_difference(
    expected: Sequence[Union[Tensor, np.ndarray]], got: Sequence[Union[Tensor, np.ndarray]]
) -> float:
    """Largest ``max|got - expected| / max|expected|`` over pairs of outputs.

    Args:
        expected (Sequence[Tensor | np.ndarray]): Reference outputs (PyTorch).
        got (Sequence[Tensor | np.ndarray]): Outputs to check (onnxruntime).

    Returns:
        float: The worst output's difference relative to its scale (0 for
        identical outputs; all-zero references are compared absolutely).

    Raises:
        ValueError: If the numbers or shapes of the outputs differ.
    """
    if len(expected) != len(got):
        raise ValueError(f'expected {len(expected)} outputs, got {len(got)}.')
    worst = 0.0
    for i, (want, have) in enumerate(zip(expected, got)):
        want = want.detach().cpu().numpy() if isinstance(want, Tensor) else np.asarray(want)
        have = have.detach().cpu().numpy() if isinstance(have, Tensor) else np.asarray(have)
        if want.shape != have.shape:
            raise ValueError(f'output {i}: expected shape {want.shape}, got {have.shape}.')
        if want.size == 0:
            continue
        diff = float(np.abs(have.astype(np.float64) - want).max())
        scale = float(np.abs(want).max())
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst
