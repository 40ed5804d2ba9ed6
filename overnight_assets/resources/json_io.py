"""Asset values as readable JSON files under `<home>/assets/<asset>/<partition>.json`.

Sections and briefings are small dicts; JSON keeps them inspectable with any editor. An input
marked optional (the briefing's own previous partition) loads as None when that partition was
never materialized: a first night or a gap in history is information, not an error.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg

OPTIONAL = {"optional": True}  # AssetIn metadata: a missing upstream partition loads as None


class JsonIOManager(dg.ConfigurableIOManager):
    base_dir: str

    def _path(self, key: dg.AssetKey, partition_key: str | None) -> Path:
        return Path(self.base_dir).expanduser() / "/".join(key.path) / f"{partition_key or 'unpartitioned'}.json"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(context.asset_key, context.partition_key if context.has_partition_key else None)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(obj, indent=1, ensure_ascii=False, default=str))
        temporary.replace(path)  # a reader never sees half a file
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        optional = bool((context.definition_metadata or {}).get("optional"))
        keys = context.asset_partition_keys if context.has_asset_partitions else [None]
        if not keys:
            return None  # a self-dependency on the first partition maps to nothing
        path = self._path(context.asset_key, keys[-1])
        if not path.exists():
            if optional:
                return None
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no value at {path}: materialize it first"
            )
        return json.loads(path.read_text())
