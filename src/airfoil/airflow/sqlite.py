"""Connect arguments for an SQLite metadata DB shared by several Airflow processes, named by
`AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`. Every Airflow process imports this module while it
configures its database, so it imports nothing."""

# SQLite serialises writers: wait 60 s for the lock instead of Airflow's 5 s ("database is locked").
CONNECT_ARGS = {"timeout": 60}
SETTING = "airfoil.airflow.sqlite.CONNECT_ARGS"
