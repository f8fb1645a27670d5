"""Evaluation plots for a training run (``matplotlib.figure.Figure``: no pyplot, no display, and
matplotlib's global backend is left as the caller set it).

Each function returns a ``Figure``; ``secondary_crimes.tracking`` logs them as PNG.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve


def annotate_counts(ax, grid: np.ndarray, fontsize: int = 8) -> None:
    """Write each non-zero count of a heatmap in its cell, white on dark cells."""
    for i in range(grid.shape[0]):
        for k in range(grid.shape[1]):
            if grid[i, k]:
                ax.text(k, i, str(grid[i, k]), ha="center", va="center", fontsize=fontsize,
                        color="white" if grid[i, k] > grid.max() / 2 else "black")


def pr_curves(Y: np.ndarray, proba: np.ndarray, labels: Sequence[str], title: str = "") -> Figure:
    """One precision-recall panel per offence (AP and positives in the panel title)."""
    columns = 5
    rows = int(np.ceil(len(labels) / columns))
    fig = Figure(figsize=(3.2 * columns, 2.7 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for j, label in enumerate(labels):
        ax = axes[j // columns][j % columns]
        y = np.asarray(Y[:, j]).astype(int)
        positives = int(y.sum())
        if positives and positives < len(y):
            precision, recall, _ = precision_recall_curve(y, proba[:, j])
            ax.plot(recall, precision, drawstyle="steps-post")
            ap = average_precision_score(y, proba[:, j])
            ax.set_title(f"{label}\nAP={ap:.2f}, n+={positives}", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no positives\nin this split", ha="center", va="center", fontsize=8)
            ax.set_title(f"{label}\nn+={positives}", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
    for k in range(len(labels), rows * columns):
        axes[k // columns][k % columns].axis("off")
    fig.supxlabel("recall")
    fig.supylabel("precision")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def calibration_plot(Y: np.ndarray, proba: np.ndarray, bins: int = 10, title: str = "") -> Figure:
    """Reliability diagram over every (incident, offence) pair, with how many fall in each bin."""
    y = np.asarray(Y).ravel().astype(float)
    p = np.asarray(proba).ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    mean_p, frac, counts = [], [], []
    for b in range(bins):
        chosen = which == b
        counts.append(int(chosen.sum()))
        if chosen.any():
            mean_p.append(float(p[chosen].mean()))
            frac.append(float(y[chosen].mean()))
    brier = float(np.mean((p - y) ** 2)) if len(y) else float("nan")
    fig = Figure(figsize=(5, 6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top.plot(mean_p, frac, marker="o", label=f"model (Brier {brier:.3f})")
    top.set_ylabel("fraction positive")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title or "Calibration (all offences pooled)")
    bottom.bar(edges[:-1], counts, width=1 / bins, align="edge", color="lightsteelblue")
    bottom.set_yscale("log")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("pairs")
    fig.tight_layout()
    return fig


def confusion_plot(
    gold: Sequence[str | None],
    predicted: Sequence[str | None],
    classes: Sequence[str],
    title: str = "Relationship: gold (rows) vs predicted (columns)",
) -> Figure:
    """Confusion matrix of a categorical attribute (e.g. relationship); None counts as 'unknown'."""
    gold = [g if g in classes else "unknown" for g in gold]
    predicted = [p if p in classes else "unknown" for p in predicted]
    names = list(classes) + (["unknown"] if "unknown" in gold + predicted else [])
    matrix = confusion_matrix(gold, predicted, labels=names)
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    annotate_counts(ax, matrix, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
