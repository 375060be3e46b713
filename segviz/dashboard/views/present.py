"""Stakeholder mode (``?present=1``): a presentation, one message per screen, in order.

Headline numbers with 95 % intervals → per-class bars → top confusions → worst examples → what
changed vs the previous model (only with 2+ models). No sidebar or developer chrome (see
:data:`CHROME_CSS`), large type, keyboard next / previous (← →, PageUp / PageDown, as presenter
clickers send), a step indicator, and the same sequence exportable as the HTML report
(:func:`segviz.report.build_report`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import streamlit as st

from segviz.compare import Comparison, compare
from segviz.figures import INVALID_NAME, class_bar_figure, delta_bar_figure
from segviz.overlay import error_map, fit_width, to_jpeg
from segviz.panels import confusion_pairs_figure, top_confusions
from segviz.stats import bootstrap

from .. import cache, state
from ..context import RESAMPLES, Context, for_display
from ..widgets import CHART_CONFIG, fmt, name, resize_rgb

WORST = 3
NEXT, PREV = "Next", "Previous"  # the shortcut badge (→, ←) is drawn beside the label
CHROME_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stToolbar"], [data-testid="stMainMenu"], [data-testid="stAppDeployButton"], .stDeployButton,
[data-testid="stDecoration"], [data-testid="stStatusWidget"], header[data-testid="stHeader"] {
  display: none !important;
}
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; padding-bottom: 1rem; max-width: 100%; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.35rem; }
[data-testid="stMain"] h1 { font-size: 2.6rem !important; }
[data-testid="stMain"] h2 { font-size: 2.1rem !important; }
[data-testid="stMetricValue"] { font-size: 3.6rem !important; line-height: 1.15; }
[data-testid="stMetricValue"] div, [data-testid="stMetricValue"] p { font-size: inherit !important; }
.pr-change { margin-bottom: 1.1rem; white-space: nowrap; }
.pr-change .label { font-size: 1.35rem; }
.pr-change .value { font-size: 2.6rem; font-weight: 600; line-height: 1.15; }
.pr-change .delta { font-size: 1.6rem; margin-left: 0.6rem; }
.pr-change .interval { font-size: 1.05rem; color: #666; }
[data-testid="stMetricLabel"] p { font-size: 1.5rem !important; }
[data-testid="stCaptionContainer"] p { font-size: 1.15rem !important; }
[data-testid="stMain"] button p { font-size: 1.2rem; }
.pr-step { font-size: 1.5rem; color: #666; text-align: right; white-space: nowrap; }
.st-key-pr-keys { display: none; }
</style>
"""
# PageDown / PageUp (what presenter clickers send) and space click the buttons; ← → are the
# buttons' own Streamlit shortcuts. Installed once on the page, whatever the step.
KEYS_JS = """
<script>
// The listener is injected into the app's own document: a listener owned by this iframe would die
// when Streamlit re-mounts the iframe on another step, while a flag on the page said it was there.
const doc = window.parent.document;
if (!doc.getElementById("segviz-keys")) {
  const script = doc.createElement("script");
  script.id = "segviz-keys";
  script.textContent = `
    document.addEventListener("keydown", (e) => {
      const t = e.target && e.target.tagName;
      if (t === "INPUT" || t === "TEXTAREA" || e.altKey || e.ctrlKey || e.metaKey) return;
      const key = {PageDown: "next", " ": "next", PageUp: "prev"}[e.key];
      if (!key) return;
      const button = document.querySelector(".st-key-pr-" + key + " button");
      if (button && !button.disabled) { e.preventDefault(); button.click(); }
    });
    window.segvizKeys = true;`;
  doc.head.appendChild(script);
}
</script>
"""


@dataclasses.dataclass(frozen=True)
class Step:
    title: str  # the message of the screen, as a sentence
    draw: Callable[[Context], None]


def steps(ctx: Context) -> list[Step]:
    """The screens, in order; "what changed" only when the dataset has two models or more."""
    out = [
        Step("How good is the model overall?", headline),
        Step("Which classes does it get right?", class_bars),
        Step("What does it confuse?", confusions),
        Step("Where does it fail worst?", worst_examples),
    ]
    if len(ctx.sel.models) >= 2:
        a, b = previous_model(ctx.sel.models, ctx.sel.model)
        out.append(Step(f"What changed from {name(a)} to {name(b)}?", changes))
    return out


def previous_model(models: list[str], model: str | None) -> tuple[str, str]:
    """(reference, shown): the model listed before the chosen one; for the first model, the
    chosen one is the reference and the next one is compared with it.

    >>> previous_model(["a", "b", "c"], "c"), previous_model(["a", "b", "c"], "a")
    (('b', 'c'), ('a', 'b'))
    """
    i = models.index(model) if model in models else 0
    return (models[i - 1], models[i]) if i > 0 else (models[0], models[1])


def render(ctx: Context) -> None:
    st.markdown(CHROME_CSS, unsafe_allow_html=True)
    screens = steps(ctx)
    step = ctx.state.step  # from the URL (step=N, 1-based) or the buttons: a link opens this screen
    if step >= len(screens):
        st.warning(
            f"The link's presentation step {step + 1} is beyond this presentation's {len(screens)} "
            f"screens; showing the last one.",
            icon=":material/link:",
        )
        step = len(screens) - 1
        state.set_step(step)
    title, where = st.columns([5, 1], vertical_alignment="bottom")
    sel = ctx.sel
    title.caption(f"{name(sel.root.name)}" + (f" · model {name(sel.model)}" if sel.model else ""))
    where.markdown(f'<div class="pr-step">{step + 1} / {len(screens)}</div>', unsafe_allow_html=True)
    st.header(screens[step].title, anchor=False)
    screens[step].draw(ctx)
    _controls(ctx, step, len(screens))


def _move(delta: int, count: int) -> None:
    """One screen on from the current one (not from the screen the button was drawn on: a key
    pressed while the next screen is still drawing reaches the previous run's button). In the URL:
    a shared link opens this screen, Back returns to the last."""
    current = int(st.session_state.get("step") or 0)
    state.set_step(min(max(current + delta, 0), count - 1))


def _exit() -> None:
    st.session_state["present"] = False
    state.set_step(0)


def _controls(ctx: Context, step: int, count: int) -> None:
    c1, c2, _, c4, c5 = st.columns([1.3, 1.3, 1.5, 2, 1.6], vertical_alignment="center")
    c1.button(
        PREV,
        key="pr:prev",
        disabled=step == 0,
        on_click=_move,
        args=(-1, count),
        shortcut="Left",
        width="stretch",
    )
    c2.button(
        NEXT,
        key="pr:next",
        disabled=step >= count - 1,
        on_click=_move,
        args=(1, count),
        shortcut="Right",
        type="primary",
        width="stretch",
    )
    if c4.button("Export as report (HTML)", key="pr:report", width="stretch"):
        st.session_state["pr:report_html"] = build_report(ctx)
    if st.session_state.get("pr:report_html"):
        c4.download_button(
            "Download report.html",
            st.session_state["pr:report_html"],
            file_name="report.html",
            mime="text/html",
            key="pr:dl",
            width="stretch",
        )
    c5.button("Exit presentation", key="pr:exit", on_click=_exit, width="stretch")
    with st.container(key="pr-keys"):
        st.iframe(KEYS_JS, height=1)


# ---------------------------------------------------------------- the screens
def _boot(ctx: Context):
    return cache.cached(("boot", ctx.key, RESAMPLES), lambda: bootstrap(ctx.result, resamples=RESAMPLES))


def headline(ctx: Context) -> None:
    result, boot = ctx.result, _boot(ctx)
    s = result.summary()
    tiles = [("mIoU", "mean_iou"), ("Pixel accuracy", "pixel_accuracy"), ("Mean Dice", "mean_dice")]
    for col, (label, key) in zip(st.columns(len(tiles)), tiles, strict=True):
        iv = boot.summary.get(key)
        col.metric(label, fmt(s[key]), border=True)
        if iv is not None:
            col.caption(f"95 % interval {fmt(iv.low)} – {fmt(iv.high)}")
    st.markdown(
        f"On **{result.num_images:,} images**, the model gives **{fmt(s['pixel_accuracy'])}** of the pixels "
        f"their right class. Averaged over the {s['mean_iou_classes']} classes, the overlap between what it "
        f"finds and the truth (IoU) is **{fmt(s['mean_iou'])}**."
    )
    st.caption(
        "Intervals: how much each number would move on other images like these "
        f"(bootstrap over images, {boot.resamples:,} resamples)."
    )


def class_bars(ctx: Context) -> None:
    boot = _boot(ctx)
    fig = class_bar_figure(
        ctx.result.class_frame(),
        ctx.result.table,
        metric="iou",
        intervals=boot.classes[["id", "low", "high"]],
        max_height=620,
        max_bars=20,
    )
    _large(fig, 18)
    st.plotly_chart(fig, width="stretch", key="pr:bars", config=CHART_CONFIG, theme=None)
    st.caption(
        "Each bar: the overlap (IoU) between the predicted and true areas of a class; whiskers: 95 % interval."
    )


def confusions(ctx: Context) -> None:
    result = ctx.result
    pairs = top_confusions(
        result.confusion,
        [*result.table.names, INVALID_NAME],
        n=8,
        by="share",
        min_pixels=int(result.confusion.sum() // 1000),  # a mistake worth a meeting: ≥ 0.1 % of all pixels
    )
    if pairs.empty:
        st.markdown("No pixel is given a wrong class.")
        return
    pairs = pairs.assign(gt=pairs["gt"].map(name), predicted=pairs["predicted"].map(name))
    st.plotly_chart(
        confusion_pairs_figure(pairs), width="stretch", key="pr:pairs", config=CHART_CONFIG, theme=None
    )
    top = pairs.iloc[0]
    st.caption(
        f"The largest mistake: {100 * top['share']:.1f} % of the {top['gt']} pixels are labelled "
        f"{top['predicted']}. Mistakes smaller than 0.1 % of all pixels are left out."
    )


def worst_examples(ctx: Context) -> None:
    result = ctx.result
    table = cache.image_table(result, ctx.key)
    miou = table.mean_iou
    worst = np.argsort(np.where(np.isnan(miou), np.inf, miou), kind="stable")[:WORST]  # (n/a last)
    for col, index in zip(st.columns(WORST), worst.tolist(), strict=False):
        col.image(_error_picture(result, index), width="stretch")
        col.markdown(f"**{name(table.names[index])}** · mIoU {fmt(miou[index])}")
    st.caption(
        "Green: right · red: wrong · grey: not scored. The images the model does worst on, worst first."
    )


def _error_picture(result, index: int) -> bytes:
    pair = result.pairs[index]
    keys = (cache.file_key(pair.gt_path), cache.file_key(pair.pred_path), cache.table_token(result.table))

    def build() -> bytes:
        gt, pred, photo = cache.load_pair(pair, result.table)
        rgb = error_map(gt, pred, result.table.num_classes, photo=photo)
        h, w = gt.shape
        return to_jpeg(resize_rgb(rgb, fit_width(w, h, 640)), quality=88)

    return cache.cached(("present:worst", keys), build, pool=cache.pictures_cache())


def comparison(ctx: Context) -> Comparison:
    a, b = previous_model(ctx.sel.models, ctx.sel.model)
    (ra, ka), (rb, kb) = ctx.evaluation(a), ctx.evaluation(b)
    comp = cache.cached(
        ("compare", ka, kb, RESAMPLES), lambda: compare(ra, rb, name_a=a, name_b=b, resamples=RESAMPLES)
    )
    return dataclasses.replace(
        comp, a=for_display(comp.a, ctx.state.cvd), b=for_display(comp.b, ctx.state.cvd)
    )


def changes(ctx: Context) -> None:
    comp = comparison(ctx)
    summary = comp.summary_frame().set_index("metric")
    tiles = [("mIoU", "mean_iou"), ("Pixel accuracy", "pixel_accuracy"), ("Mean Dice", "mean_dice")]
    left, right = st.columns([1, 2.2])
    left.markdown(
        "".join(_change_html(label, summary.loc[key]) for label, key in tiles), unsafe_allow_html=True
    )
    fig = delta_bar_figure(comp.class_frame(), name_a=comp.name_a, name_b=comp.name_b, max_bars=14)
    _large(fig, 16)
    fig.update_layout(height=520)
    right.plotly_chart(fig, width="stretch", key="pr:delta", config=CHART_CONFIG, theme=None)
    st.caption(
        f"{name(comp.name_b)} against {name(comp.name_a)} on the same {comp.a.num_images:,} images; "
        "faded bars: changes within the noise (their interval includes 0)."
    )


def _change_html(label: str, row) -> str:
    """One summary metric of model B with its change and the change's 95 % interval (text only:
    no user-supplied name goes in here)."""
    colour = "#1a7f37" if row["delta"] > 0 else "#b42318" if row["delta"] < 0 else "#555"
    return (
        f'<div class="pr-change"><div class="label">{label}</div>'
        f'<span class="value">{fmt(row["b"])}</span>'
        f'<span class="delta" style="color:{colour}">{100 * row["delta"]:+.2f} pts</span>'
        f'<div class="interval">95 % interval of the change: {100 * row["low"]:+.2f} to '
        f"{100 * row['high']:+.2f} pts</div></div>"
    )


def _large(fig, size: int) -> None:
    """Meeting-size type on every text of a figure (axis ticks and titles included)."""
    fig.update_layout(font=dict(size=size))
    fig.update_xaxes(tickfont=dict(size=size - 2), title_font=dict(size=size))
    fig.update_yaxes(tickfont=dict(size=size), title_font=dict(size=size))
    fig.update_traces(textfont=dict(size=size - 2), selector=dict(type="bar"))


def build_report(ctx: Context) -> str:
    """The presentation as the HTML report (segviz.report.build_report; with the comparison when
    the presentation has a "what changed" screen)."""
    from segviz.report import build_report as report

    sel = ctx.sel
    comp = comparison(ctx) if len(sel.models) >= 2 else None
    key = ("report", ctx.key, "present", comp.name_a if comp else None, comp.name_b if comp else None)
    return cache.cached(
        key,
        lambda: report(
            ctx.result,
            title=f"{sel.root.name} — {sel.model or 'predictions'}",
            dataset=sel.root.name,
            model=sel.model,
            resamples=RESAMPLES,
            worst=WORST,
            comparison=comp,
        ),
    )
