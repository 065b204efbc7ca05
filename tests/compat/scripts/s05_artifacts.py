# Artifacts of every kind: text, dicts, a folder of files, a matplotlib figure.
import os

import matplotlib.pyplot as plt
import mlflow

with mlflow.start_run():
    mlflow.log_text("hello from the notes", "notes/readme.txt")
    mlflow.log_dict({"features": ["a", "b"], "version": 2}, "config.json")
    os.makedirs("outputs", exist_ok=True)
    for i in range(2):
        with open(f"outputs/part-{i}.csv", "w") as f:
            f.write("x,y\n1,2\n")
    mlflow.log_artifacts("outputs", artifact_path="data")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    mlflow.log_figure(fig, "figures/line.png")
    print(mlflow.get_artifact_uri())
