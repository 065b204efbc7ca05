# compat: slow
# mlflow.xgboost.autolog() with XGBClassifier on a pandas frame and an eval set (iris, 3 classes).
import mlflow
import xgboost as xgb
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, random_state=0, stratify=y)

mlflow.set_experiment("iris-xgb")
mlflow.xgboost.autolog()
with mlflow.start_run() as run:
    clf = xgb.XGBClassifier(n_estimators=8, max_depth=2, learning_rate=0.5, n_jobs=1,
                            random_state=0, eval_metric="mlogloss")
    clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)

model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
print(len(model.predict(X_valid)))
