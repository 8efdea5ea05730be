"""The anchor for bench/pipeline.py: the churn pipeline as a plain script, no airfoil, no Airflow.

What a data scientist would write by hand for the same job airfoil's `churn_bench` spec describes:
read the Parquet file, drop duplicate rows, check nulls, stratified train/test split, the same
scikit-learn preprocessing (median impute + standard scale for numbers, most-frequent impute +
one-hot for categories), a cross-validated grid search per candidate, pick the best by CV f1,
test metrics, then log the run and register the model in MLflow (skops format, with signature).

By default MLflow infers the model's pip requirements (what a user gets without thinking about it:
MLflow loads the model in a subprocess, ~10 s here). With --pinned the script passes the same
explicit pinned list airfoil logs, so the two sides do the same MLflow work.

Run: python bench/plain_pipeline.py DATA.parquet MLFLOW_DIR RESULT.json [--pinned]
"""

# ruff: noqa: E402  (the imports are timed: they are part of what the script costs)
import time

T_START = time.perf_counter()

import json
import sys
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
import skops.io as sio
from mlflow.models import infer_signature
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "churn"
POSITIVE = "churned"
SEED = 42
CANDIDATES = [
    (LogisticRegression, {"C": [0.1, 1.0]}),
    (HistGradientBoostingClassifier, {"max_iter": [200], "learning_rate": [0.05, 0.1], "random_state": [0]}),
]

phases: dict[str, float] = {"imports": time.perf_counter() - T_START}


def phase(name: str, started: float) -> float:
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - started
    return now


def make_pipeline(X: pd.DataFrame, estimator: object) -> Pipeline:
    numeric = X.select_dtypes("number").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric]
    pre = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent", fill_value="missing")),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist", max_categories=20, sparse_output=False
                            ),
                        ),
                    ]
                ),
                categorical,
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("prepare", pre), ("model", estimator)])


def test_metrics(model: Pipeline, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    pred = model.predict(X)
    proba = model.predict_proba(X)
    pos = list(model.classes_).index(POSITIVE)
    return {
        "accuracy": metrics.accuracy_score(y, pred),
        "precision": metrics.precision_score(y, pred, pos_label=POSITIVE, zero_division=0),
        "recall": metrics.recall_score(y, pred, pos_label=POSITIVE, zero_division=0),
        "f1": metrics.f1_score(y, pred, pos_label=POSITIVE, zero_division=0),
        "roc_auc": metrics.roc_auc_score(y == POSITIVE, proba[:, pos]),
        "log_loss": metrics.log_loss(y, proba, labels=model.classes_),
    }


def main() -> None:
    data, mlflow_dir, result_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    pinned = "--pinned" in sys.argv[4:]

    t = time.perf_counter()
    df = pd.read_parquet(data)
    rows_in = len(df)
    df = df.drop_duplicates(ignore_index=True)
    worst_null = float(df.isna().mean().max())
    if worst_null > 0.05 or df[TARGET].isna().any():
        raise SystemExit(f"too many nulls: {worst_null:.3f}")
    train, test = train_test_split(df, test_size=0.2, random_state=SEED, stratify=df[TARGET])
    X_train, y_train = train.drop(columns=TARGET), train[TARGET]
    X_test, y_test = test.drop(columns=TARGET), test[TARGET]
    t = phase("read + clean + split", t)

    scorer = metrics.make_scorer(metrics.f1_score, pos_label=POSITIVE, zero_division=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=SEED)
    tuned = []
    for estimator, params in CANDIDATES:
        search = GridSearchCV(
            make_pipeline(X_train, estimator()),
            {f"model__{k}": v for k, v in params.items()},
            scoring=scorer,
            cv=cv,
            refit=True,
            error_score="raise",
            n_jobs=-1,  # as airfoil's train.n_jobs: -1 (its default), set explicitly in the bench spec
        )
        search.fit(X_train, y_train)
        tuned.append((estimator.__name__, search))
        t = phase(f"tune {estimator.__name__}", t)

    name, best = max(tuned, key=lambda pair: pair[1].best_score_)
    scores = {n: test_metrics(s.best_estimator_, X_test, y_test) for n, s in tuned}
    t = phase("evaluate", t)

    model = best.best_estimator_
    mlflow.set_tracking_uri(f"sqlite:///{mlflow_dir / 'mlflow.db'}")
    artifacts = (mlflow_dir / "artifacts").as_uri()
    experiment = mlflow.create_experiment("churn_plain", artifact_location=artifacts)
    example = X_train.head(5)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_params(
            {"estimator": name, **{k.removeprefix("model__"): v for k, v in best.best_params_.items()}}
        )
        mlflow.log_metrics({"cv_f1": best.best_score_, **{f"test_{k}": v for k, v in scores[name].items()}})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(model)),
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=[
                f"{name}=={metadata.version(name)}"
                for name in ("mlflow", "numpy", "pandas", "scikit-learn", "scipy", "skops")
            ]
            if pinned
            else None,
        )
    version = mlflow.register_model(info.model_uri, "churn_plain")
    t = phase("mlflow log + register", t)

    phases["total in script"] = time.perf_counter() - T_START
    result = {
        "rows_in": rows_in,
        "rows": len(df),
        "train_rows": len(train),
        "test_rows": len(test),
        "chosen": name,
        "best_params": {k.removeprefix("model__"): v for k, v in best.best_params_.items()},
        "cv": {n: float(s.best_score_) for n, s in tuned},
        "test": {n: {k: float(v) for k, v in m.items()} for n, m in scores.items()},
        "mlflow_run": run.info.run_id,
        "model_version": int(version.version),
        "pinned_requirements": pinned,
        "phases": phases,
    }
    result_path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
