# compat: slow
# mlflow.autolog() for every installed library, then a scikit-learn fit inside a run.
import mlflow
import numpy as np
from sklearn.linear_model import Ridge

mlflow.autolog()
X = np.arange(40, dtype=float).reshape(20, 2)
y = X[:, 0] * 2 + 1
with mlflow.start_run(run_name="ridge"):
    Ridge(alpha=0.5).fit(X, y)
