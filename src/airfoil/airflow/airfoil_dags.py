"""airfoil DAG-folder file: renders every pipeline under AIRFOIL_PIPELINES as Airflow DAGs.

Copy (or symlink) this file into your Airflow DAG folder and set AIRFOIL_PIPELINES to a folder of
pipeline specs. Parsing it imports airflow.sdk and airfoil's light spec/plan modules only.
"""

from airfoil.airflow.dagfolder import render_pipelines

globals().update(render_pipelines())
