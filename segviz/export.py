"""Downloads: figures as PNG/SVG bytes, the result tables as CSV, the results as JSON.

Static figures come from kaleido 1.x, which drives a headless Chrome/Chromium (Debian's
``/usr/bin/chromium`` is found by itself, or set ``BROWSER_PATH``). Starting that browser costs 2–4 s,
so one is started lazily on the first :func:`figure_bytes` call and kept for the life of the process
(then ≈0.2 s per figure); MathJax is disabled (its default URL is a CDN, unreachable offline).

Why not ``kaleido.start_sync_server()``: its ``call_function`` shares one return queue between callers
(two threads can swap results) and, when the browser fails to start inside its thread, every call
waits forever. Here the browser lives on a private event loop in one daemon thread; calls from any
thread are scheduled onto it and wait with a timeout, and a failed browser is dropped so that the
next call starts a fresh one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import pandas as pd

from segviz.errors import SegvizError
from segviz.figures import INVALID_NAME
from segviz.safety import csv_safe_frame

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from segviz.evaluate import Evaluation

ImageFormat = Literal["png", "svg"]

#: Seconds to wait for the browser to start, and for one figure to render.
START_TIMEOUT = 60.0
RENDER_TIMEOUT = 60.0

_INSTALL_KALEIDO = "pip install kaleido==1.5.0"
_INSTALL_CHROMIUM = "apt-get install --no-install-recommends chromium, or set BROWSER_PATH to a Chrome binary"


# ---------------------------------------------------------------------- figures
def figure_bytes(
    fig: go.Figure,
    *,
    format: ImageFormat,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
) -> bytes:
    """A plotly figure as PNG or SVG bytes, rendered by kaleido in headless Chromium.

    Args:
        fig: the figure (a ``plotly.graph_objects.Figure`` or its dict).
        format: ``"png"`` or ``"svg"``.
        width, height: size in CSS pixels; ``None`` takes the figure's layout size, else 700 × 500.
        scale: PNG pixels per CSS pixel (a PNG is ``width * scale`` pixels wide); no effect on SVG
            geometry.

    Raises:
        SegvizError: kaleido is not installed, no Chrome/Chromium is found, or rendering failed.

    The first call starts the browser (2–4 s); later calls from any thread reuse it (≈0.2 s).
    """
    if format not in get_args(ImageFormat):
        raise ValueError(f"format must be 'png' or 'svg' (got {format!r})")
    for name, value in (("width", width), ("height", height)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer number of pixels or None (got {value!r})")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ValueError(f"scale must be a positive number (got {scale!r})")
    opts: dict[str, Any] = {"format": format, "scale": scale}
    if width is not None:
        opts["width"] = width
    if height is not None:
        opts["height"] = height
    figure = fig.to_dict() if hasattr(fig, "to_dict") else fig
    data = _renderer().render(figure, opts)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


class _Renderer:
    """One kaleido browser on a private asyncio loop running in a daemon thread."""

    def __init__(self, kaleido: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="segviz-kaleido", daemon=True)
        self._thread.start()
        self._kaleido: Any = None
        try:
            self._kaleido = self._call(self._open(kaleido), START_TIMEOUT)
        except BaseException:
            self.close()
            raise

    @staticmethod
    async def _open(kaleido: Any) -> Any:
        browser = kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT)
        await browser.open()
        return browser

    @property
    def alive(self) -> bool:
        return self._kaleido is not None and self._thread.is_alive()

    def render(self, figure: dict, opts: dict[str, Any]) -> bytes | str:
        return self._call(self._kaleido.calc_fig(figure, opts=opts), RENDER_TIMEOUT + 10)

    def _call(self, coroutine: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self._kaleido is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):  # best effort: the process may be exiting
                self._call(self._kaleido.close(), 10)
        self._kaleido = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


class _Service:
    """The process-wide renderer: started on first use, replaced after a failure. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renderer: _Renderer | None = None

    def render(self, figure: dict, opts: dict[str, Any]) -> bytes | str:
        renderer = self._get()
        try:
            return renderer.render(figure, opts)
        except TimeoutError:
            self._drop(renderer)
            raise SegvizError(
                f"figure export: the browser did not render the figure within {RENDER_TIMEOUT:.0f} s"
            ) from None
        except Exception as exc:
            if not renderer.alive:  # the browser loop died: start afresh next time
                self._drop(renderer)
            raise SegvizError(f"figure export failed: {type(exc).__name__}: {exc}") from exc

    def _get(self) -> _Renderer:
        with self._lock:
            if self._renderer is None:
                kaleido = _import_kaleido()
                browser = _find_browser()
                try:
                    self._renderer = _Renderer(kaleido)
                except TimeoutError:
                    raise SegvizError(
                        f"figure export: {browser} did not start within {START_TIMEOUT:.0f} s"
                    ) from None
                except Exception as exc:
                    raise SegvizError(
                        f"figure export: could not start {browser} for kaleido "
                        f"({type(exc).__name__}: {exc}); install it with {_INSTALL_CHROMIUM}"
                    ) from exc
            return self._renderer

    def _drop(self, renderer: _Renderer) -> None:
        with self._lock:
            if self._renderer is renderer:
                self._renderer = None
        renderer.close()

    def close(self) -> None:
        """Stop the browser (called at exit; the next export starts a new one)."""
        with self._lock:
            renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()


_SERVICE = _Service()
atexit.register(_SERVICE.close)


def _renderer() -> _Service:
    return _SERVICE


def _import_kaleido() -> Any:
    try:
        import kaleido
    except ImportError:
        raise SegvizError(
            f"figure export needs the kaleido package, which is not installed: {_INSTALL_KALEIDO}"
        ) from None
    return kaleido


def _find_browser() -> str:
    """Path of the Chrome/Chromium kaleido will use (``BROWSER_PATH`` first), or a clear error."""
    try:
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
    except Exception:  # an unknown choreographer version: let kaleido search by itself
        return "Chrome/Chromium"
    if not path or not Path(path).is_file():
        override = os.environ.get("BROWSER_PATH")
        where = f" (BROWSER_PATH={override!r} is not a file)" if override else ""
        raise SegvizError(
            f"figure export needs Chrome or Chromium, which was not found{where}: {_INSTALL_CHROMIUM}"
        )
    return str(path)


# ---------------------------------------------------------------------- tables
def tables_csv(evaluation: Evaluation) -> dict[str, bytes]:
    """The result tables as UTF-8 CSV files, by file name.

    * ``classes.csv``: :meth:`Evaluation.class_frame` (one row per class);
    * ``images.csv``: :meth:`Evaluation.image_frame` (one row per image, ``iou:<class>`` columns);
    * ``confusion_matrix.csv``: the (K, K+1) pixel counts, ground truth in rows and prediction in
      columns, labelled with the class names, the last column ``(invalid)``.

    Floats are written with full precision (they read back bit for bit); undefined values are empty.
    A name starting with ``= + - @``, a tab or a carriage return is written with a leading ``'`` so
    that no spreadsheet runs it as a formula (OWASP's advice on CSV injection).

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> files = tables_csv(_example_evaluation())
        >>> sorted(files), files["confusion_matrix.csv"].decode().splitlines()[0]
        (['classes.csv', 'confusion_matrix.csv', 'images.csv'], 'ground_truth,class_0,class_1,(invalid)')
    """
    names = list(evaluation.table.names)
    confusion = pd.DataFrame(
        evaluation.confusion,
        index=pd.Index(names, name="ground_truth"),
        columns=[*names, INVALID_NAME],
    )
    return {
        "classes.csv": _csv(evaluation.class_frame(), index=False),
        "images.csv": _csv(evaluation.image_frame(), index=False),
        "confusion_matrix.csv": _csv(confusion, index=True),
    }


def _csv(frame: pd.DataFrame, *, index: bool) -> bytes:
    """Names that a spreadsheet would run as formulas are neutralised (segviz.safety.csv_safe_frame)."""
    buffer = io.StringIO()
    csv_safe_frame(frame).to_csv(buffer, index=index, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def results_json(evaluation: Evaluation) -> bytes:
    """:meth:`Evaluation.to_dict` as JSON bytes (undefined values are ``null``, never ``NaN``).

    Example:
        >>> from segviz.stats import _example_evaluation
        >>> json.loads(results_json(_example_evaluation()))["num_images"]
        2
    """
    return json.dumps(evaluation.to_dict(), allow_nan=False).encode("utf-8")
