# Registry listing in 1.x and 2.x spellings, with max_results/page_token paging.
import json

from mlflow.tracking import MlflowClient

client = MlflowClient()
for name in ("churn", "fraud", "taxi"):
    client.create_registered_model(name, tags={"team": "ml"})

listed = [m.name for m in client.list_registered_models()]
paged, token = [], None
while True:
    page = client.search_registered_models(max_results=2, page_token=token, order_by=["name ASC"])
    paged += [m.name for m in page]
    token = page.token
    if not token:
        break
json.dump({"listed": listed, "paged": paged}, open("out.json", "w"))
