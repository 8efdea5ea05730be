"""The anchor of bench/batch.py: batch scoring written by hand with pyarrow and ONNX Runtime, no airfoil.

Reads a Parquet file row group by row group without pre-buffering (ParquetFile(path,
pre_buffer=False).iter_batches(row_groups=[i]): memory stays flat whatever the file's size; with
--pyarrow-defaults, ParquetFile(path).iter_batches() over the whole file, whose pre-buffering keeps
every row group read in memory until the file is closed), feeds each batch's
feature columns to an ONNX Runtime session of the champion's ONNX file (one [n, 1] float64 input
per column, as airfoil exports it; 1 intra-op and 1 inter-op thread), and writes the row id (`id`,
when the input has one), the label and one probability column per class with
pyarrow.parquet.ParquetWriter. Prints one JSON object on stdout.

Run: python bench/bare_batch.py MODEL.onnx INPUT.parquet OUTPUT.parquet CLASSES_JSON [--batch-size N]
     [--pyarrow-defaults]
"""

from __future__ import annotations

import argparse
import json
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("classes", help="JSON list of class labels, in the model's probability order")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument(
        "--pyarrow-defaults",
        action="store_true",
        help="ParquetFile(path).iter_batches() (pre-buffering on) instead of row groups without it",
    )
    parser.add_argument(
        "--key", default="id", help="row id column carried to the output, if the input has it"
    )
    args = parser.parse_args()
    t_imports = time.perf_counter()

    classes = json.loads(args.classes)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if args.pyarrow_defaults:
        source = pq.ParquetFile(args.input)
    else:
        source = pq.ParquetFile(args.input, pre_buffer=False)
    key = args.key if args.key in source.schema_arrow.names else None
    head = [(key, source.schema_arrow.field(key).type)] if key else []
    schema = pa.schema([*head, ("label", pa.string())] + [(f"p_{c}", pa.float64()) for c in classes])
    read = [key, *names] if key else names
    t_ready = time.perf_counter()

    if args.pyarrow_defaults:
        batches = source.iter_batches(batch_size=args.batch_size, columns=read)
    else:
        batches = (
            batch
            for group in range(source.num_row_groups)
            for batch in source.iter_batches(batch_size=args.batch_size, row_groups=[group], columns=read)
        )

    rows = 0
    counts: dict[str, int] = {}
    with pq.ParquetWriter(args.output, schema) as writer:
        for batch in batches:
            feeds = {n: np.asarray(batch.column(n), dtype=np.float64).reshape(-1, 1) for n in names}
            labels, proba = session.run(None, feeds)
            labels = labels.ravel()
            columns = [batch.column(key)] if key else []
            columns += [pa.array(labels, type=pa.string())]
            columns += [pa.array(proba[:, i]) for i in range(len(classes))]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            rows += len(labels)
            for value, n in zip(*np.unique(labels, return_counts=True), strict=True):
                counts[str(value)] = counts.get(str(value), 0) + int(n)
    t_end = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": rows,
                "label_counts": counts,
                "import_s": t_imports - T_START,
                "setup_s": t_ready - t_imports,
                "loop_s": t_end - t_ready,
                "seconds": t_end - T_START,
                "rows_per_s": rows / (t_end - t_ready) if t_end > t_ready else None,
            }
        )
    )


if __name__ == "__main__":
    main()
