"""The two adapters the pipeline trains: where their examples live and what they are registered as."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import PROJECT_DIR


@dataclass(frozen=True)
class AdapterSpec:
    key: str               # "core" / "sport": CLI argument and folder names
    title: str             # CoreSelf / SportMind
    asset_name: str        # lora_core_self / lora_sport_mind
    examples_folder: str   # relative to the materials folder
    registered_model: str  # MLflow registered model name

    @property
    def dataset_asset(self) -> str:
        return f"sft_dataset_{self.key}"

    @property
    def eval_asset(self) -> str:
        return f"{self.asset_name.removeprefix('lora_')}_eval"

    @property
    def heldout_file(self):
        return PROJECT_DIR / "eval" / "heldout" / f"{self.key}.yaml"


ADAPTERS = {
    "core": AdapterSpec("core", "CoreSelf", "lora_core_self", "worldview/core", "persona-core-self"),
    "sport": AdapterSpec("sport", "SportMind", "lora_sport_mind", "worldview/sport", "persona-sport-mind"),
}
CHAMPION = "champion"
BASE_TAG = "base_model_revision"  # on every registered version: the base model it was trained on
BASE_TAG_CHARS = 16               # of the base model's revision, in that tag
DATASET_TAG = "dataset_digest"       # on every registered version: the first 16 characters of its dataset's digest
SETTINGS_TAG = "training_fingerprint"  # and the fingerprint of the settings it was trained with
