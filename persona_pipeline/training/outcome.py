"""What one adapter training produced, as it travels from the training process to the asset (JSON)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class TrainingOutcome:
    run_id: str
    version: str
    experiment_id: str
    tracking_uri: str
    steps: int
    eval_loss: float | None
    heldout_loss: float
    base_heldout_loss: float
    seconds: float
    resumed_from: str | None
    loss_history: dict[str, list[tuple[int, float]]]  # "train" / "eval" -> (step, loss)
    adapter_dir: Path

    def to_json(self) -> dict:
        return {**asdict(self), "adapter_dir": str(self.adapter_dir)}

    @classmethod
    def from_json(cls, data: dict) -> TrainingOutcome:
        return cls(**{**data, "adapter_dir": Path(data["adapter_dir"]),
                      "loss_history": {name: [tuple(point) for point in points] for name, points in data["loss_history"].items()}})
