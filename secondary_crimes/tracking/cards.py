"""Model cards: rendered from ``templates/model_card.md.j2`` (Jinja2) with a run's logged figures.

A card is logged with its run as ``model_card/<name>-v<version>.md`` and never written into
the repository: a fresh store numbers its versions from v1 again, so a committed card named by
version would describe another store's model. ``models/cards/default.md`` (the bundled
default model's card, a documentation file) is the only card kept in git. Every figure on a
card is read back from the run: the ones the registry shows and ``promote`` compares.
"""

from __future__ import annotations

import io
import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from secondary_crimes.taxonomy import LABELS
from secondary_crimes.tracking.evaluation_set import SET_RUN_TAG, SET_TAG
from secondary_crimes.tracking.promotion import TEST_SPLIT_TAG
from secondary_crimes.tracking.store import DEFAULT_MODEL_NAME

log = logging.getLogger(__name__)

TEMPLATE = "model_card.md.j2"
CARD_FOLDER = "model_card"  # the run artifact folder
# The repository's committed cards (documentation): no run writes here.
COMMITTED_CARDS = Path(__file__).resolve().parents[2] / "models" / "cards"


def environment() -> jinja2.Environment:
    """Markdown, so no HTML escaping; an undefined name is an error, not an empty string."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("secondary_crimes.tracking", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _artifact(run_id: str, path: str) -> str | None:
    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)).read_text(encoding="utf-8")
    except (MlflowException, OSError):
        return None


def card_values(run_id: str, version: str | None) -> dict[str, Any]:
    """What the template is rendered with: the run's tags, params, figures and logged tables."""
    run = MlflowClient().get_run(run_id)
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    summary_text = _artifact(run_id, "data/summary.json")
    summary = json.loads(summary_text) if summary_text else {}
    table_text = _artifact(run_id, "evaluation/per_offence.csv")
    table = pd.read_csv(io.StringIO(table_text)) if table_text else pd.DataFrame()
    per_offence = []
    if not table.empty:
        for label in LABELS:
            rows = {task: table[(table.task == task) & (table.offence == label)] for task in ("offences", "missed")}
            if all(len(row) for row in rows.values()):
                per_offence.append({"offence": label, **{task: row.iloc[0].to_dict() for task, row in rows.items()}})
    return {
        "name": tags.get("model_name", DEFAULT_MODEL_NAME),
        "version": version,
        "run_id": run_id,
        "kind": tags.get("kind", "?"),
        "trained_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": tags.get("git_commit", "unknown"),
        "config_file": tags.get("config_file", "?"),
        "data_sha256": tags.get("data_sha256", "?"),
        "test_sha256": tags.get(TEST_SPLIT_TAG),
        "evaluation_set_sha256": tags.get(SET_TAG),
        "evaluation_set_run_id": tags.get(SET_RUN_TAG),
        "evaluation_set_matches": tags.get(SET_TAG) is not None and tags.get(SET_TAG) == tags.get(TEST_SPLIT_TAG),
        "summary": summary,
        "sources": summary.get("sources", {}),
        "params": {k.removeprefix("params."): v for k, v in sorted(params.items()) if k.startswith("params.")},
        "metrics": dict(metrics),
        "per_offence": per_offence,
    }


def _figure(metrics: dict[str, float]):
    def figure(key: str, digits: int = 3) -> str:
        value = metrics.get(key)
        return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else "n/a"

    return figure


def render_model_card(run_id: str, version: str | None = None) -> str:
    """The card of ``run_id`` (registered as ``version``, if it is) as Markdown."""
    values = card_values(run_id, version)
    template = environment().get_template(TEMPLATE)
    return template.render(**values, figure=_figure(values["metrics"]))


def card_file_name(name: str, version: str | None, run_id: str) -> str:
    return f"{name}-v{version}.md" if version else f"{name}-run-{run_id[:8]}.md"


def log_model_card(run_id: str, version: str | None, copy_to: str | Path | None = None) -> str:
    """Render the run's card and log it as the artifact ``model_card/<name>-v<version>.md``; return that path.

    ``copy_to`` (a config's ``tracking.card_dir``, unset by default) also writes a copy there,
    never into the repository's ``models/cards``.
    """
    text = render_model_card(run_id, version)
    name = MlflowClient().get_run(run_id).data.tags.get("model_name", DEFAULT_MODEL_NAME)
    artifact = f"{CARD_FOLDER}/{card_file_name(name, version, run_id)}"
    MlflowClient().log_text(run_id, text, artifact)
    if copy_to:
        try:
            write_model_card(run_id, version, copy_to, text=text)
        except ValueError as error:
            log.warning("model card not copied: %s", error)
    return artifact


def write_model_card(run_id: str, version: str | None, output_dir: str | Path, *, text: str | None = None) -> Path:
    """Write the run's card to ``<output_dir>/<name>-v<version>.md`` (or ``-run-<run>``) and return the path.

    Refuses the repository's ``models/cards`` (committed documentation). A card of the same
    name from another run (another store's version with the same number) is kept: this one is
    then named by its run as well.
    """
    output_dir = Path(output_dir)
    if output_dir.resolve().is_relative_to(COMMITTED_CARDS):
        raise ValueError(f"{output_dir}: the repository's committed cards; a run's card is a run artifact "
                         f"({CARD_FOLDER}/), not a file in git")
    text = render_model_card(run_id, version) if text is None else text
    name = MlflowClient().get_run(run_id).data.tags.get("model_name", DEFAULT_MODEL_NAME)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / card_file_name(name, version, run_id)
    if path.exists() and run_id not in path.read_text(encoding="utf-8"):
        path = path.with_name(f"{path.stem}-run-{run_id[:8]}.md")
        log.warning("a card for %s v%s from another run exists: writing %s", name, version, path)
    path.write_text(text, encoding="utf-8")
    return path
