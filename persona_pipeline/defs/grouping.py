"""The UI groups (one per pipeline stage) and the owners of assets, set once per module or factory rather
than on each decorator."""
import dagster as dg

KNOWLEDGE, SFT, TRAINING, EVALUATION = "knowledge", "sft", "training", "evaluation"
OWNERS = ["team:persona"]


def in_group(group: str, *assets: dg.AssetsDefinition) -> list[dg.AssetsDefinition]:
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(group_name=group, owners=OWNERS), assets))
