"""Submit the pipeline to a KFP endpoint, once or on a schedule.

    submit(host, package, arguments, *, experiment, run_name) -> run id
    schedule(host, package, arguments, *, cron, experiment, name) -> recurring run id
    kfp_cron(expr) -> str

Both go through `kfp.Client` (KFP's v2beta1 REST API), with the compiled YAML uploaded inline
with the run, so the run records exactly the pipeline that was compiled. Authentication: KFP's
own (`KF_PIPELINES_SA_TOKEN_PATH`, an `existing_token`, or a reverse proxy in front of the host).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

DEFAULT_EXPERIMENT = "maldoc"


def kfp_cron(expr: str) -> str:
    """KFP's cron has a seconds field first (6 fields); a usual 5-field expression runs at second 0."""
    fields = expr.split()
    if len(fields) == 5:
        return "0 " + " ".join(fields)
    if len(fields) == 6:
        return " ".join(fields)
    raise ValueError(f"cron expression {expr!r}: expected 5 fields (minute hour day month weekday) "
                     "or 6 (seconds first)")


def _client(host: str, token: str | None = None):
    import warnings

    import kfp

    with warnings.catch_warnings():  # "this client only works with KFP >= 2.0.0-beta.2": a notice, every time
        warnings.filterwarnings("ignore", message=".*only works with Kubeflow Pipeline v2.*", category=FutureWarning)
        return kfp.Client(host=host, existing_token=token)


def submit(host: str, package: str | Path, arguments: dict, *, experiment: str = DEFAULT_EXPERIMENT,
           run_name: str | None = None, token: str | None = None) -> str:
    client = _client(host, token)
    with contextlib.redirect_stdout(sys.stderr):  # kfp prints UI links; stdout is the run id's
        result = client.create_run_from_pipeline_package(str(package), arguments=arguments, run_name=run_name,
                                                         experiment_name=experiment)
    return result.run_id


def schedule(host: str, package: str | Path, arguments: dict, *, cron: str, experiment: str = DEFAULT_EXPERIMENT,
             name: str = "maldoc-retrain", token: str | None = None) -> str:
    """A recurring run: one run at a time (retrains must not race on the cache and models), no catch-up."""
    client = _client(host, token)
    with contextlib.redirect_stdout(sys.stderr):
        exp = client.create_experiment(name=experiment)  # returns the existing experiment of that name
        job = client.create_recurring_run(experiment_id=exp.experiment_id, job_name=name,
                                          cron_expression=kfp_cron(cron), params=arguments,
                                          pipeline_package_path=str(package), max_concurrency=1, no_catchup=True)
    return job.recurring_run_id
