"""The model registry: loading a logged model by URI (cached), and ``promote``.

``classify.bundle.load_bundle`` imports this module (lazily) for ``models:/`` and ``runs:/``
URIs. It needs the store and the bundle, never ``train``: loading a model no longer imports
the training code (the old bundle -> tracking -> train cycle).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from secondary_crimes.classify.bundle import META_FILE, ModelBundle
from secondary_crimes.model_cache import cache_root
from secondary_crimes.tracking import promotion
from secondary_crimes.tracking.store import DEFAULT_MODEL_NAME


def _configure() -> str:
    """``tracking.configure`` looked up through the package, so replacing it there (tests do) is seen here."""
    import secondary_crimes.tracking as package

    return package.configure()


def _resolve(uri: str) -> str:
    """A stable key for what ``uri`` points at now (an alias resolves to its version)."""
    if uri.startswith("models:/"):
        rest = uri.removeprefix("models:/")
        client = MlflowClient()
        if "@" in rest:
            name, alias = rest.split("@", 1)
            try:
                return f"{name}/{client.get_model_version_by_alias(name, alias).version}"
            except MlflowException as error:
                raise ValueError(f"cannot load {uri!r} from {mlflow.get_tracking_uri()}: {error.message}") from None
    return uri.split(":/", 1)[1]


def model_cache_entry(uri: str) -> Path:
    """Where ``uri``'s download is cached: the private cache folder, keyed by store and resolved version."""
    key = hashlib.sha256(f"{mlflow.get_tracking_uri()}|{_resolve(uri)}".encode()).hexdigest()[:16]
    return cache_root() / key


def load_bundle_from_uri(uri: str, *, trust_unhashed: bool | None = None) -> ModelBundle:
    """The ``ModelBundle`` inside a logged model (``models:/name@alias``, ``models:/name/3``, ``runs:/id/model``).

    A registered version's or a run's artifacts never change, so the download is cached in
    a private per-user folder (``secondary_crimes.model_cache``: owner-only, checked before
    use), keyed by the tracking store and the resolved version; an alias is resolved afresh
    on every load. The bundle's files are checked against their recorded hashes on load.
    """
    _configure()
    cache = model_cache_entry(uri)
    found = sorted(cache.rglob(META_FILE)) if cache.exists() else []
    if not found:
        staging = Path(tempfile.mkdtemp(prefix=f"{cache.name}-", dir=cache.parent))
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging))
        except MlflowException as error:
            raise ValueError(f"cannot load {uri!r} from {mlflow.get_tracking_uri()}: {error.message}") from None
        if not sorted(staging.rglob(META_FILE)):
            raise ValueError(f"{uri!r} holds no secondary-crimes model bundle (no {META_FILE})")
        with contextlib.suppress(OSError):  # another process may have cached it first
            staging.rename(cache)
        found = sorted((cache if cache.exists() else staging).rglob(META_FILE))
    bundle = ModelBundle.load(found[0].parent, trust_unhashed=trust_unhashed)
    bundle.metadata["source_uri"] = uri
    return bundle


def promote(version: str, name: str = DEFAULT_MODEL_NAME, *, force: bool = False, dry_run: bool = False) -> str:
    """``promotion.promote`` on the configured store: compare with the champion, then move the alias."""
    _configure()
    return promotion.promote(MlflowClient(), version, name, force=force, dry_run=dry_run)
