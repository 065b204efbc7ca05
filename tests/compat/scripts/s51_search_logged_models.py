# compat: slow
# Several candidate models, then MLflow 3's search_logged_models to pick the best one and load it
# by its models:/<model_id> URI (the pattern of MLflow 3's "logged model" docs).
import json

import mlflow
import numpy as np
from sklearn.linear_model import Ridge

X = np.arange(40, dtype=float).reshape(20, 2)
y = X @ np.array([1.0, -2.0]) + 3

mlflow.set_experiment("candidates")
for i, alpha in enumerate((0.01, 1.0, 100.0)):
    with mlflow.start_run(run_name=f"ridge-{alpha}"):
        mlflow.log_param("alpha", alpha)
        model = Ridge(alpha=alpha).fit(X, y)
        info = mlflow.sklearn.log_model(model, name=f"ridge_{i}", tags={"family": "ridge"})
        mse = float(np.mean((model.predict(X) - y) ** 2))
        mlflow.log_metric("mse", mse, model_id=info.model_id)

ranked = mlflow.search_logged_models(
    filter_string="tags.family = 'ridge' AND metrics.mse < 1000",
    order_by=[{"field_name": "metrics.mse", "ascending": True}],
    output_format="list",
)
best = ranked[0]
df = mlflow.search_logged_models(filter_string="params.alpha = '100.0'")
loaded = mlflow.pyfunc.load_model(f"models:/{best.model_id}")
json.dump({
    "ranked": [m.name for m in ranked],
    "best_alpha": best.params["alpha"],
    "df_names": df["name"].tolist(),
    "df_status": df["status"].tolist(),
    "prediction": round(float(loaded.predict(X[:1])[0]), 3),
}, open("out.json", "w"))
