"""Row-level feature for the seattle_weather example: the month as a season signal."""

import pandas as pd


def add_season(df: pd.DataFrame) -> pd.DataFrame:
    """Add `month` (1-12) from the `date` column; `date` itself is not a model input."""
    out = df.copy()
    out["month"] = pd.to_datetime(out["date"]).dt.month
    return out
