"""The course's model-registry steps: register, promote, describe, alias, and serve by alias.

``register_and_promote`` follows the course's snippets (``mlflow.register_model``, then the
client's ``get_latest_versions``/``transition_model_version_stage``/``update_model_version``)
and adds the alias ``champion``; ``predict_with_champion`` loads
``models:/nyc-taxi-duration@champion`` with ``mlflow.pyfunc`` and the preprocessor logged in the
same run, as a service would.
"""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

import tracker as mlflow
from examples.nyc_taxi import data

if TYPE_CHECKING:
    import pandas as pd

MODEL_NAME = "nyc-taxi-duration"
ALIAS = "champion"
PREPROCESSOR = "preprocessor/preprocessor.b"


def _client() -> Any:
    """The course's ``mlflow.tracking.MlflowClient(tracking_uri=...)``."""
    return mlflow.tracking.MlflowClient(tracking_uri=mlflow.get_tracking_uri())


def register_and_promote(run_id: str, score: float, model_name: str = MODEL_NAME) -> str:
    """Register ``runs:/<run_id>/model``, move it Staging → Production, describe it, alias it.

    The version that was in Production before is archived (``archive_existing_versions``), so
    running the example again hands Production and ``champion`` to the new version.
    Returns the new version number.
    """
    model_uri = f"runs:/{run_id}/model"
    registered = mlflow.register_model(model_uri=model_uri, name=model_name)
    client = _client()
    client.transition_model_version_stage(
        name=model_name, version=registered.version, stage="Staging"
    )

    # The course's promotion: the latest version in Staging goes to Production.
    latest_version = client.get_latest_versions(model_name, stages=["Staging"])[0].version
    client.transition_model_version_stage(
        name=model_name,
        version=latest_version,
        stage="Production",
        archive_existing_versions=True,
    )
    client.update_model_version(
        name=model_name,
        version=latest_version,
        description=(
            f"Model '{model_name}' version {latest_version} transitioned to 'Production': "
            f"XGBoost with the sweep's best params, validation rmse {score:.4f} "
            f"(run {run_id})."
        ),
    )
    client.set_registered_model_alias(model_name, ALIAS, latest_version)
    return str(latest_version)


def predict_with_champion(trips: pd.DataFrame, n_rows: int = 5,
                          model_name: str = MODEL_NAME) -> pd.DataFrame:
    """The first ``n_rows`` prepared trips with their duration and the champion's prediction."""
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@{ALIAS}")
    run_id = model.metadata["run_id"]  # the run that logged the model also logged its input step
    with tempfile.TemporaryDirectory(prefix="nyc-taxi-") as tmp:
        path = _client().download_artifacts(run_id, PREPROCESSOR, tmp)
        with open(path, "rb") as f_in:
            dv = pickle.load(f_in)
    rows = trips.head(n_rows)
    # The course's `loaded_model.predict(X_val)`: the DictVectorizer's sparse rows, as trained on.
    predicted = model.predict(dv.transform(data.to_dicts(rows)))
    out = rows[[*data.FEATURES, data.TARGET]].reset_index(drop=True)
    out["predicted"] = np.asarray(predicted, dtype=float)
    return out


@dataclass(frozen=True)
class RegistrySummary:
    """A registered model's versions (oldest first) and aliases, read back from the store."""

    name: str
    versions: list[Any] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)

    @property
    def production(self) -> Any:
        """The version in Production (the newest if several), or None."""
        live = [v for v in self.versions if v.current_stage == "Production"]
        return live[-1] if live else None


def registry_summary(model_name: str = MODEL_NAME) -> RegistrySummary:
    """The model's versions and aliases as the registry has them now."""
    client = _client()
    model = client.get_registered_model(model_name)
    versions = client.search_model_versions(f"name = '{model_name}'")
    ordered = sorted(versions, key=lambda v: int(v.version))
    return RegistrySummary(model_name, ordered, {k: int(v) for k, v in model.aliases.items()})
