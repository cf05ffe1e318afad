"""Small matplotlib figures shown in the Dagster UI and logged to MLflow: token lengths, loss curves, eval bars."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on servers and in Dagster run workers

import matplotlib.pyplot as plt  # noqa: E402


def token_histogram(lengths: list[int], title: str, limit: int | None = None):
    figure, axis = plt.subplots(figsize=(6, 2.6))
    axis.hist(lengths, bins=min(30, max(5, len(set(lengths)))), color="#4c78a8")
    if limit:
        axis.axvline(limit, color="#e45756", linestyle="--", label=f"limit {limit}")
        axis.legend(loc="upper left")
    axis.set_title(title)
    axis.set_xlabel("tokens")
    axis.set_ylabel("count")
    figure.tight_layout()
    return figure


def loss_curves(series: dict[str, list[tuple[int, float]]], title: str):
    figure, axis = plt.subplots(figsize=(6, 2.6))
    for name, points in series.items():
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values, marker="o", markersize=3, label=name)
    axis.set_title(title)
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend()
    figure.tight_layout()
    return figure


def metric_bars(metrics: dict[str, dict[str, float | None]], panels: dict[str, str]):
    """One bar panel per metric key in `panels` (key -> title), one bar per configuration."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    names = list(metrics)
    for axis, (key, title), color in zip(axes[0], panels.items(), ("#4c78a8", "#f58518", "#54a24b")):
        axis.bar(names, [metrics[n][key] or 0 for n in names], color=color)
        axis.set_title(title)
        axis.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    return figure


def png(figure, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()
