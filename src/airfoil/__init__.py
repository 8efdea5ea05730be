"""airfoil: machine learning pipelines as real Apache Airflow 3 DAGs."""

__version__ = "0.1.0"
