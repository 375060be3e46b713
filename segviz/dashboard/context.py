"""What every view receives: the sidebar's Selection, the ViewState, and the evaluation when one applies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from segviz.classes import cvd_safe_colors
from segviz.evaluate import Evaluation

from . import cache
from .sidebar import Selection
from .state import ViewState

RESAMPLES = 1000


def for_display(result: Evaluation, cvd: bool) -> Evaluation:
    """The evaluation with the colour-blind-safe palette when chosen (a shallow copy: the shared
    cached result is never mutated, and counting never depends on display colours)."""
    if not cvd:
        return result
    return dataclasses.replace(
        result, table=result.table.with_colors(cvd_safe_colors(result.table.num_classes))
    )


@dataclass(frozen=True)
class Context:
    sel: Selection
    state: ViewState
    result: Evaluation | None = None  # the selected model's evaluation (Overview and Images)
    key: tuple = ()  # its cache key: derived results (bootstrap, report) are cached under it

    def evaluation(self, model: str | None) -> tuple[Evaluation, tuple]:
        """Another model's evaluation on the same dataset (shared cache), ready for display."""
        s = self.sel
        result, key = cache.open_model(s.root, model, s.table, s.table_choice, s.generated_ignore, s.allowed)
        return for_display(result, self.state.cvd), key
