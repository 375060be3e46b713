"""The report's sections for the optional analyses: calibration (:mod:`segviz.confidence`) and error
anatomy (:mod:`segviz.anatomy`). Each returns "" when its analysis was not run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segviz.report.markup import esc, figure_html

if TYPE_CHECKING:
    from segviz.anatomy import Anatomy
    from segviz.confidence import ConfidenceResult


def calibration_html(confidence: ConfidenceResult | None) -> str:
    """A plain sentence and the reliability diagram of the model's top-1 confidence."""
    if confidence is None or not confidence.has_confidence.any():
        return ""
    from segviz.confidence_figures import reliability_figure

    cal = confidence.calibration()
    return f"""<section id="calibration" class="break">
<h2>Calibration</h2>
<p>{esc(cal.sentence())}</p>
<p class="note">Top-1 confidence against accuracy in {cal.bins} equal-width bins over
{cal.pixels:,} non-ignored pixels of {int(confidence.has_confidence.sum())} images; ECE weighs each
bin's gap by its pixels, MCE is the largest gap.</p>
<figure class="plot">{figure_html(reliability_figure(cal), "reliability")}</figure>
</section>"""


def anatomy_html(anatomy: Anatomy | None) -> str:
    """One plain sentence per headline, the dataset-level split and the per-class stacked bars."""
    if anatomy is None:
        return ""
    from segviz.anatomy_figures import anatomy_class_figure, anatomy_split_figure

    sentences = "".join(f"<p>{esc(s)}</p>" for s in anatomy.headlines())
    return (
        '<section id="anatomy"><h2>Error anatomy</h2>'
        f"{sentences}{figure_html(anatomy_split_figure(anatomy), 'anatomy-split')}"
        f"{figure_html(anatomy_class_figure(anatomy), 'anatomy-classes')}</section>"
    )
