"""Fake fit-and-score functions for runner, store and CLI tests: deterministic rows, no training."""

import json
import zlib


def fake_rows(task):
    """Deterministic rows: accuracy is a fixed function of the row key."""
    rows = []
    for inference in task.inferences:
        key = f"{task.dataset}/{task.configuration.name}/{inference.name}/{task.seed}"
        rows.append({**task.row_fields(inference), "accuracy": zlib.crc32(key.encode()) / 2**32,
                     "balanced_accuracy": 0.5, "fit_seconds": 0.1, "predict_seconds": 0.01,
                     "epochs": 2, "kept_bins": json.dumps({"l": 1}), "saved_bytes": 10,
                     "saved_bytes_per_layer": json.dumps({"l": 10}), "versions": "{}",
                     "status": "ok", "error": None})
    return rows


def failing_on_beef(task):
    if task.dataset == "Beef":
        raise RuntimeError("Beef is off the menu")
    return fake_rows(task)


def logged_slow_rows(task, log, seconds=0.2):
    """fake_rows after ``seconds``, appending "dataset/config/seed pid" to the file ``log`` first
    (to see which process ran which fit)."""
    import os
    import time

    with open(log, "a") as file:
        file.write(f"{task.dataset}/{task.configuration.name}/{task.seed} {os.getpid()}\n")
    time.sleep(seconds)
    return fake_rows(task)


def sleeping_rows(task, seconds=120.0):
    """fake_rows after a long sleep: a fit still running when its driver is killed."""
    import time

    time.sleep(seconds)
    return fake_rows(task)


def first_fast_then_sleeping(task, log):
    """logged_slow_rows: at once for dataset "D0", after 120 s for the others."""
    return logged_slow_rows(task, log, seconds=0.0 if task.dataset == "D0" else 120.0)
