# compat: slow
# mlflow.sklearn.autolog() with a binary classifier on a pandas frame (MLflow's autolog docs):
# training metrics, the confusion matrix, ROC and precision-recall curves, the model.
import mlflow
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X = X.iloc[:, :6]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

mlflow.set_experiment("breast-cancer")
mlflow.sklearn.autolog()
with mlflow.start_run() as run:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    clf.fit(X_train, y_train)

model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
print(int((model.predict(X_test) == y_test).sum()))
