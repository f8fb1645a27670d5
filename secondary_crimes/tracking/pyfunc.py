"""A ``ModelBundle`` as an MLflow pyfunc, logged with pinned requirements and registered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.decide import decide
from secondary_crimes.model_requirements import pinned_requirements
from secondary_crimes.privacy import pseudonymise_incident
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS

if TYPE_CHECKING:
    from secondary_crimes.train import TrainConfig

__all__ = ["SecondaryCrimesPyfunc", "kinds_in", "log_model", "pinned_requirements"]

PACKAGE = Path(__file__).resolve().parents[1]  # secondary_crimes/: the logged model's code_paths


class SecondaryCrimesPyfunc(mlflow.pyfunc.PythonModel):
    """A ``ModelBundle`` as an MLflow pyfunc: a DataFrame of incidents in, scored rows out."""

    def load_context(self, context) -> None:
        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        bundle = getattr(self, "bundle", None) or ModelBundle.load(context.artifacts["bundle"])
        rows = model_input.to_dict(orient="records")
        incidents = [Incident.model_validate({k: v for k, v in row.items() if v is not None}) for row in rows]
        analyses = bundle.model.analyse(incidents, None)
        out = []
        for incident, analysis in zip(incidents, analyses, strict=True):
            record = decide(incident, analysis, bundle.thresholds, model_version=bundle.version)
            out.append(
                {
                    "incident_id": incident.incident_id,
                    "offences": ";".join(e["offence"] for e in record["offences"]),
                    "missed": ";".join(e["offence"] for e in record["missed"]),
                    "review_priority": record["review_priority"],
                    **{f"p_{label}": float(p) for label, p in zip(LABELS, analysis.probabilities, strict=True)},
                }
            )
        return pd.DataFrame(out)


def kinds_in(config: TrainConfig) -> set[str]:
    """The model kinds a config trains (an ensemble's members too): they decide the pinned extras."""
    kinds = {config.kind}
    for member in config.params.get("members", []) or []:
        kinds.add(member.get("kind", ""))
    return kinds


def log_model(
    bundle: ModelBundle, path: Path, config: TrainConfig, examples: list[Incident], register: bool = True
) -> str | None:
    """Log the bundle as a pyfunc in the active run; register it; return the version (or None)."""
    from mlflow.models import infer_signature

    wrapper = SecondaryCrimesPyfunc()
    signature = input_example = None
    if examples:
        fields = ["incident_id", "opening_code", "closing_code", "call_log", "officer_narrative", "recorded_crimes"]
        rows = []
        for incident in examples:
            row = pseudonymise_incident(incident)
            rows.append({k: row[k] for k in fields} | {"recorded_crimes": ";".join(row["recorded_crimes"])})
        input_example = pd.DataFrame(rows)
        wrapper.bundle = bundle
        signature = infer_signature(input_example, wrapper.predict(None, input_example))
        del wrapper.bundle
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=wrapper,
        artifacts={"bundle": str(path)},
        code_paths=[str(PACKAGE)],
        pip_requirements=pinned_requirements(kinds_in(config)),
        signature=signature,
        input_example=input_example,
        registered_model_name=config.name if register else None,
        metadata={"bundle_version": bundle.version, "kind": bundle.kind},
    )
    version = getattr(info, "registered_model_version", None)
    if register and version is not None:
        client = MlflowClient()
        client.set_model_version_tag(config.name, str(version), "kind", bundle.kind)
        client.set_model_version_tag(config.name, str(version), "bundle_version", bundle.version)
        client.update_model_version(
            config.name,
            str(version),
            description=f"{bundle.kind} model {bundle.version}, run {mlflow.active_run().info.run_id}",
        )
    return None if version is None else str(version)
