# compat: slow
# mlflow.sklearn.autolog() with a random forest on the diabetes data (MLflow's example).
import mlflow
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

mlflow.sklearn.autolog()

db = load_diabetes()
X_train, X_test, y_train, y_test = train_test_split(db.data, db.target, random_state=0)

rf = RandomForestRegressor(n_estimators=10, max_depth=6, max_features=3, n_jobs=1, random_state=0)
rf.fit(X_train, y_train)
predictions = rf.predict(X_test)

autolog_run = mlflow.last_active_run()
print(autolog_run.info.run_id)
