"""A shareable evaluation report: one self-contained HTML file, and its PDF.

:func:`build_report` returns a single HTML document that opens offline in any browser: plotly.js is
inlined once in the head, the pictures are inline base64 JPEGs, the CSS is inline and uses the system
fonts, and a Content-Security-Policy forbids loading anything from elsewhere. It holds the header
(dataset, model, segviz version, UTC time and :func:`dataset_fingerprint`), the summary metrics with
95 % bootstrap intervals over images (:func:`segviz.stats.bootstrap`), per-class IoU with intervals,
the row-normalised confusion matrix, the worst images by mIoU (photo, ground truth, prediction, error
map), what other tools would call mIoU (:func:`segviz.conventions.miou_conventions`), the metric
definitions and conventions, and the skipped samples with their reasons.

Every string that comes from the user or the data (title, class names, file names, reasons) is
HTML-escaped; :mod:`segviz.figures` escapes class names in the plotly figures too, since plotly.js
reads ``<b>``, ``<a href>`` … in labels as markup and shows entities as their characters.

:func:`write_pdf` prints such a document to an A4 PDF with Playwright and Debian's Chromium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plotly.offline import get_plotlyjs

from segviz import __version__, stats
from segviz.compare import Comparison
from segviz.evaluate import Evaluation
from segviz.report import sections
from segviz.report.analysis import anatomy_html, calibration_html
from segviz.report.fingerprint import dataset_fingerprint, mask_root
from segviz.report.markup import data_file, esc, fill, format_percent
from segviz.report.pdf import CHROMIUM, CHROMIUM_ARGS, PRINT_WIDTH, write_pdf
from segviz.report.sections import TABLE_ROWS
from segviz.report.worst import LEGEND_CLASSES, PICTURE_WIDTH, worst_html

if TYPE_CHECKING:
    from segviz.anatomy import Anatomy
    from segviz.confidence import ConfidenceResult

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DATA_FILES",
    "LEGEND_CLASSES",
    "PICTURE_WIDTH",
    "PRINT_WIDTH",
    "TABLE_ROWS",
    "build_report",
    "dataset_fingerprint",
    "format_percent",
    "write_pdf",
]

#: Files of this package: the style sheet and the templates (``$name`` placeholders,
#: :class:`string.Template`), read with :mod:`importlib.resources` so they work from a wheel.
DATA_FILES = (
    "report.css",
    "page.html",
    "header.html",
    "summary.html",
    "classes.html",
    "confusion.html",
    "weakest.html",
    "worst.html",
    "image_card.html",
    "gains_losses.html",
    "conventions.html",
    "definitions.html",
    "problems.html",
)

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


def build_report(
    evaluation: Evaluation,
    *,
    title: str,
    dataset: str,
    model: str | None,
    resamples: int = 1000,
    seed: int = 0,
    worst: int = 6,
    comparison: Comparison | None = None,
    weakest=None,
    confidence: ConfidenceResult | None = None,
    anatomy: Anatomy | None = None,
) -> str:
    """One self-contained HTML document (str) reporting ``evaluation``; it loads nothing from outside.

    Args:
        evaluation: the evaluation to report (its masks and photos are read again for the pictures
            of the ``worst`` images).
        title, dataset, model: shown in the header (escaped); ``model=None`` shows "—".
        resamples, seed: of the percentile bootstrap over images behind every 95 % interval.
        worst: how many images with the lowest mIoU to show (0 for none).
        comparison: optionally a :class:`~segviz.compare.Comparison` to add a section with the
            images whose mIoU rose and fell most from its model A to its model B
            (:func:`segviz.compare.gains_and_losses`: each list only changes of its sign, or "no
            image improved" / "no image got worse").
        weakest: worst slices (:class:`segviz.slices.WorstSlices`) for "Where the model is weakest".
        confidence: the model's confidence (:func:`segviz.confidence.evaluate_confidence`): adds a
            calibration section (a plain sentence and the reliability diagram).
        anatomy: an optional :class:`segviz.anatomy.Anatomy` of the same evaluation: adds the
            error-anatomy section (headline sentences and the stacked per-class bars).

    About 5.8 MB for the bundled sample data and 5.6 MB for ADE20K (150 classes), 4.8 MB of it
    plotly.js; builds in ≈0.3–1 s (the bootstrap and reading the ``worst`` images' files dominate;
    ``benchmarks/bench_report.py``). Print it with :func:`write_pdf`.
    """
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise ValueError(f"worst must be a non-negative integer (got {worst!r})")
    boot = stats.bootstrap(evaluation, resamples=resamples, seed=seed) if evaluation.num_images else None
    root = mask_root(evaluation)  # (once: every section that shows a path leaves it out)
    body = "\n".join(
        [
            sections.header_html(evaluation, title=title, dataset=dataset, model=model, root=root),
            sections.nav_html(worst > 0, comparison is not None),
            sections.summary_html(evaluation, boot),
            sections.weakest_html(weakest) if weakest is not None else "",
            sections.classes_html(evaluation, boot),
            sections.confusion_html(evaluation),
            calibration_html(confidence),
            anatomy_html(anatomy),
            worst_html(evaluation, worst, root=root) if worst > 0 else "",
            sections.gains_losses_html(comparison) if comparison is not None else "",
            sections.conventions_html(evaluation),
            sections.definitions_html(evaluation, root=root),
            sections.problems_html(evaluation, root=root),
            sections.footer_html(),
        ]
    )
    return fill(
        "page.html",
        title=esc(title),
        version=esc(__version__),
        csp=_CSP,
        css=data_file("report.css"),
        plotlyjs=get_plotlyjs(),
        body=body,
    )
