"""The UI groups of the adapter and evaluation stages (the knowledge group is knowledge_assets.GROUP) and the
owners of every asset, set once per module or factory rather than on each decorator."""
import dagster as dg

SFT, TRAINING, EVALUATION = "sft", "training", "evaluation"
OWNERS = ["team:persona"]


def in_group(group: str, *assets: dg.AssetsDefinition) -> list[dg.AssetsDefinition]:
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(group_name=group, owners=OWNERS), assets))
