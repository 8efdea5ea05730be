"""The only package that imports Airflow: plan -> DAGs, the DAG-folder loader, embedded runs."""
