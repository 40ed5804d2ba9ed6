"""The README's configuration reference stays in step with the config schema."""

from pydantic import BaseModel

from overnight_assets.config import OvernightConfig
from overnight_assets_tests.testkit import REPO


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        nested = [arg for arg in getattr(field.annotation, "__args__", (field.annotation,)) if isinstance(arg, type)]
        submodel = next((arg for arg in nested if issubclass(arg, BaseModel)), None)
        keys += leaf_keys(submodel, f"{prefix}{name}.") if submodel else [f"{prefix}{name}"]
    return keys


def test_every_config_key_is_in_the_reference_and_the_example():
    readme = REPO.joinpath("README.md").read_text()
    reference = readme[readme.index("## Configuration reference") :]
    example = REPO.joinpath("overnight.example.yaml").read_text()
    for key in leaf_keys(OvernightConfig):
        parent, _, leaf = key.rpartition(".")
        assert leaf in reference and (not parent or parent.split(".")[0] in reference), f"README lacks {key}"
        assert f"{leaf}:" in example, f"overnight.example.yaml lacks {key}"


def test_readme_shows_the_two_commands():
    readme = REPO.joinpath("README.md").read_text()
    assert "make demo" in readme and "make test" in readme
