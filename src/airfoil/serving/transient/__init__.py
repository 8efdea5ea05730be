"""Transient (train-per-request) predictions: request intake, the status route, and the runners.

`POST /v1/models/{name}/transient` accepts rows in an MLflow scoring format (`request`), records the
request in the prediction store (`pending`) and starts the pipeline's `<name>__transient` DAG with
the rows in its run conf (`service`). `GET /v1/predictions/{request_id}` reads the request back from
the store: the DAG's task writes the predictions and the `done` status in one transaction, or
`failed` with the reason.

Two runners start the DAG (`runner`):

- `airflow_api`: an Airflow api-server (`AIRFOIL_AIRFLOW_API_URL`); a DAG run is triggered through
  Airflow's REST API with a `dag_run_id` derived from the request id, so Airflow itself refuses a
  duplicate;
- `embedded` (no api-server configured): one background thread sends the requests, one at a time,
  to a long-lived `airfoil transient worker` subprocess (`DAG.test()` on airfoil's embedded SQLite
  metadata DB), over the typed messages of `messages`. A file lock under AIRFOIL_HOME keeps it one
  at a time across server worker processes too.

This package never imports Airflow (import-linter contract): it talks to Airflow over HTTP or
through the `airfoil` CLI.
"""
