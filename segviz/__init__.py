"""segviz: trustworthy semantic-segmentation metrics, and a dashboard to see them.

The library is numpy-first and never imports streamlit. Data flow, one module per step:
``dataset`` (find and pair files) → ``classes`` (class table) → ``masks`` (decode, count) →
``evaluate`` (confusion matrices) → ``metrics`` → ``overlay`` / ``figures`` → ``app.py``.
"""

from segviz.classes import ClassTable
from segviz.dataset import Dataset, Pair, Problem, list_models, open_dataset, open_models
from segviz.errors import ClassTableError, DatasetError, MaskError, SegvizError
from segviz.evaluate import Evaluation, evaluate
from segviz.metrics import class_metrics, summary_metrics

__version__ = "0.1.0"

__all__ = [
    "ClassTable",
    "ClassTableError",
    "Dataset",
    "DatasetError",
    "Evaluation",
    "MaskError",
    "Pair",
    "Problem",
    "SegvizError",
    "__version__",
    "class_metrics",
    "evaluate",
    "list_models",
    "open_dataset",
    "open_models",
    "summary_metrics",
]
