"""Submit the pipeline to a KFP endpoint, once or on a schedule.

    Target(host, namespace, experiment, token)            where and as whom
    read_token(token, token_file) -> str | None           --token, --token-file, or the pod's service account
    submit(target, package, arguments, *, run_name) -> run id
    schedule(target, package, arguments, *, cron, name) -> recurring run id
    kfp_cron(expr) -> str

Both go through `kfp.Client` (KFP's v2beta1 REST API), with the compiled YAML uploaded inline
with the run, so the run records exactly the pipeline that was compiled. On a multi-user
Kubeflow, `namespace` is the profile the run belongs to and the token a bearer token that may
act in it (inside a pod, the service account's token is read when no other is given). A host
that cannot be reached, or that refuses the request, raises `KFPError` with one line to show.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_EXPERIMENT = "maldoc"
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class KFPError(RuntimeError):
    """The KFP host could not be reached or refused the request (one line, no traceback)."""


@dataclass(frozen=True)
class Target:
    host: str
    namespace: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    token: str | None = None


def read_token(token: str | None = None, token_file: str | Path | None = None, *,
               service_account: Path = SERVICE_ACCOUNT_TOKEN) -> str | None:
    """The bearer token: given, read from a file, or the in-cluster service account's, else None."""
    if token:
        return token.strip()
    path = Path(token_file) if token_file else service_account if service_account.is_file() else None
    if path is None:
        return None
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise KFPError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    if not text:
        raise KFPError(f"the token file {path} is empty")
    return text


def kfp_cron(expr: str) -> str:
    """KFP's cron has a seconds field first (6 fields); a usual 5-field expression runs at second 0."""
    fields = expr.split()
    if len(fields) == 5:
        return "0 " + " ".join(fields)
    if len(fields) == 6:
        return " ".join(fields)
    raise ValueError(f"cron expression {expr!r}: expected 5 fields (minute hour day month weekday) "
                     "or 6 (seconds first)")


def _describe(exc: BaseException) -> str:
    """One line for a failure of the KFP client: HTTP status and reason, or the socket's error."""
    status = getattr(exc, "status", None)
    if status is not None and hasattr(exc, "reason"):
        hint = " (check --token / --token-file and --namespace)" if status in (401, 403) else ""
        return f"HTTP {status} {exc.reason}{hint}"
    inner = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    while inner is not None and getattr(inner, "reason", None) is not None and inner is not inner.reason:
        if isinstance(inner.reason, str):
            break
        inner = inner.reason
    text = str(inner or exc).strip()
    # urllib3 wraps the socket error in a long repr; keep its last clause ("[Errno 111] Connection refused")
    if "]" in text and "Errno" in text:
        text = text[text.rindex("[Errno"):].rstrip("')\"")
    return " ".join(text.split())[:300] or type(exc).__name__


@contextlib.contextmanager
def _talking_to(host: str):
    """Every exception the KFP client raises becomes a one-line KFPError naming the host; urllib3's
    retry warnings (a log line per attempt) stay quiet, the error says it all."""
    import logging

    quiet = logging.getLogger("urllib3")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    except KFPError:
        raise
    except Exception as exc:
        raise KFPError(f"KFP host {host}: {_describe(exc)}") from None
    finally:
        quiet.setLevel(level)


def _client(target: Target):
    import warnings

    import kfp

    class OneShotClient(kfp.Client):
        """kfp.Client asks /healthz up to 5 times, 5 s apart, logging a traceback each time: once is enough."""

        def get_kfp_healthz(self, sleep_duration: int = 5):
            return self._healthz_api.healthz_service_get_healthz()

    with warnings.catch_warnings():  # "this client only works with KFP >= 2.0.0-beta.2": a notice, every time
        warnings.filterwarnings("ignore", message=".*only works with Kubeflow Pipeline v2.*", category=FutureWarning)
        kwargs = {"namespace": target.namespace} if target.namespace else {}
        return OneShotClient(host=target.host, existing_token=target.token, **kwargs)


def submit(target: Target, package: str | Path, arguments: dict, *, run_name: str | None = None) -> str:
    with _talking_to(target.host):
        client = _client(target)
        with contextlib.redirect_stdout(sys.stderr):  # kfp prints UI links; stdout is the run id's
            result = client.create_run_from_pipeline_package(str(package), arguments=arguments, run_name=run_name,
                                                             experiment_name=target.experiment,
                                                             namespace=target.namespace)
        return result.run_id


def schedule(target: Target, package: str | Path, arguments: dict, *, cron: str,
             name: str = "maldoc-retrain") -> str:
    """A recurring run: one run at a time (retrains must not race on the cache and models), no catch-up."""
    with _talking_to(target.host):
        client = _client(target)
        with contextlib.redirect_stdout(sys.stderr):
            # returns the existing experiment of that name
            exp = client.create_experiment(name=target.experiment, namespace=target.namespace)
            job = client.create_recurring_run(experiment_id=exp.experiment_id, job_name=name,
                                              cron_expression=kfp_cron(cron), params=arguments,
                                              pipeline_package_path=str(package), max_concurrency=1,
                                              no_catchup=True)
        return job.recurring_run_id
