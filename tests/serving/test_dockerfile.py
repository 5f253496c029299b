"""The Dockerfile cannot rot: its shape is checked, and its install steps run in fresh venvs.

No Docker engine (and no base image) is available here, so the slow test replays the build:
the COPY sources go into a scratch context, every RUN of the build stage and the pip/python RUNs
of the `pipeline` and `service` stages run as written, each image in its own venv (system steps,
apt-get and useradd, are checked, not run); the service venv must hold no pipeline or training
package, and the image's ENTRYPOINT + CMD starts the service until the HEALTHCHECK command passes.
Every install step uses constraints.txt, which pins every dependency pyproject.toml declares.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[int, str, str]]:
    """(stage, INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[int, str, str]] = []
    stage, pending = -1, ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        op, _, args = text.partition(" ")
        op = op.upper()
        if op == "FROM":
            stage += 1
        out.append((stage, op, args.strip()))
    return out


def stage_names() -> list[str]:
    return [a.split(" AS ")[1].strip() if " AS " in a else "" for _, o, a in instructions() if o == "FROM"]


def final(op: str, stage: str | None = None) -> list[str]:
    """`op`'s arguments in the last stage (the default target), or in the stage named `stage`."""
    items = instructions()
    index = stage_names().index(stage) if stage else max(s for s, _, _ in items)
    return [a for s, o, a in items if s == index and o == op]


def env_of_final_stage() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in final("ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def test_image_is_slim_non_root_with_healthcheck_and_libgomp():
    items = instructions()
    froms = [a for _, o, a in items if o == "FROM"]
    assert stage_names() == ["build", "pipeline", "service"]  # the service is the default target
    assert all("slim" in a or "PYTHON_IMAGE" in a for a in froms)
    assert any("slim" in a for _, o, a in items if o == "ARG")
    user = final("USER")
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert final("HEALTHCHECK") and "/readyz" in final("HEALTHCHECK")[0]
    assert final("EXPOSE") == ["8080"]
    assert json.loads(final("ENTRYPOINT")[0]) == ["maldoc"]
    # the image listens on 0.0.0.0, so anonymous scanning must be chosen explicitly (README: why)
    assert json.loads(final("CMD")[0]) == ["serve", "--allow-anonymous"]
    assert any("libgomp1" in a and "--no-install-recommends" in a for a in final("RUN"))
    env = env_of_final_stage()
    assert env["MALDOC_HOST"] == "0.0.0.0" and env["MALDOC_PORT"] == "8080"


def test_each_image_installs_only_its_extra_and_everything_with_the_constraints():
    service = " ".join(final("RUN", "service"))
    pipeline = " ".join(final("RUN", "pipeline"))
    assert '"maldoc[serve]"' in service and "maldoc[pipeline]" not in service and "maldoc[train]" not in service
    assert '"maldoc[pipeline]"' in pipeline
    assert final("USER", "pipeline") and final("USER", "pipeline")[-1].split(":")[0] not in ("0", "root")
    for _, op, args in instructions():
        if op == "RUN" and re.match(r"pip (install|wheel) ", args):
            assert "-c constraints.txt" in args or "-c /constraints.txt" in args, args


def _declared() -> set[str]:
    """Every distribution pyproject.toml depends on, directly or through an extra, but the milter's
    (built against a system library, outside the images) and the bench peers' (never in an image)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for req in [*pyproject["dependencies"], *(r for extra, reqs in pyproject["optional-dependencies"].items()
                                             if extra not in ("milter", "bench") for r in reqs)]:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0)
        if name != "maldoc":
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_constraints_pin_every_declared_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"not pinned: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert "maldoc" not in pins  # the project itself is built, not pinned
    missing = _declared() - set(pins)
    assert not missing, f"constraints.txt lacks {sorted(missing)}: run scripts/update-constraints.sh"


def test_every_package_of_the_distribution_is_copied_and_not_ignored():
    copied = {a.split()[0] for s, o, a in instructions() if o == "COPY" and not a.startswith("--")}
    copied |= {p for s, o, a in instructions() if o == "COPY" and not a.startswith("--") for p in a.split()[:-1]}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert folders <= copied, f"not copied into the image: {folders - copied}"
    allowed = {line[1:].strip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for source in copied:
        assert (ROOT / source).exists(), source
        assert source in allowed, f"{source} is excluded by .dockerignore"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MALDOC_SKIP_DOCKERFILE_BUILD") == "1", reason="MALDOC_SKIP_DOCKERFILE_BUILD=1")
def test_dockerfile_install_steps_run_in_a_fresh_venv(tmp_path):
    context, wheels, venv = tmp_path / "src", tmp_path / "wheels", tmp_path / "venv"
    context.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALDOC_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(command: str, cwd: Path, in_venv: Path = venv, stage_wheels: Path = wheels) -> None:
        # The image's paths map into the scratch folder; the pip download cache may be reused here.
        command = command.replace("/wheels", str(stage_wheels)).replace("--no-cache-dir", "")
        step_env = {**env, "PATH": f"{in_venv / 'bin'}{os.pathsep}{env['PATH'].split(os.pathsep, 1)[1]}"}
        done = subprocess.run(command, shell=True, cwd=cwd, env=step_env, capture_output=True, text=True,
                              timeout=1500)
        assert done.returncode == 0, f"RUN {command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    names = stage_names()
    venvs = {"pipeline": tmp_path / "venv-pipeline", "service": venv}
    subprocess.run([sys.executable, "-m", "venv", str(venvs["pipeline"])], check=True)
    for stage, op, args in instructions():
        name = names[stage]
        if op == "COPY" and not args.startswith("--"):
            *sources, dest = args.split()
            for source in sources:
                target = context / (source if dest.endswith("/") or dest == "./" else dest)
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(ROOT / source, target)
        elif op == "RUN" and name == "build":
            run(args, context)
        elif op == "COPY" and args.startswith("--from=build /wheels"):
            shutil.copytree(wheels, tmp_path / f"wheels-{name}")  # each image gets its own copy, and removes it
        elif op == "RUN" and re.match(r"(pip|python) ", args):
            run(args.replace("/constraints.txt", str(context / "constraints.txt")), tmp_path, venvs[name],
                tmp_path / f"wheels-{name}")
        elif op == "RUN":
            # system steps: the packages must exist for Debian; the user step is plain useradd
            for package in re.findall(r"--no-install-recommends ([\w .+-]+?)(?:&&|$)", args):
                for pkg in package.split():
                    if shutil.which("dpkg-query"):
                        probe = subprocess.run(["dpkg-query", "-W", pkg], capture_output=True)
                        if probe.returncode != 0 and shutil.which("apt-cache"):
                            probe = subprocess.run(["apt-cache", "show", pkg], capture_output=True)
                        assert probe.returncode == 0, f"Debian package {pkg} unknown"

    pipeline = subprocess.run([str(venvs["pipeline"] / "bin" / "python"), "-c",
                               "import kfp, kfp.kubernetes, maldoc.pipeline.components"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert pipeline.returncode == 0, pipeline.stderr  # the pipeline image runs the components
    service_has = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.util as u; print("
                                  "[m for m in ('kfp', 'pandas', 'pyarrow', 'matplotlib') if u.find_spec(m)])"],
                                 env=env, capture_output=True, text=True, timeout=120)
    assert service_has.stdout.strip() == "[]", service_has  # ... the service image holds none of it
    maldoc = venv / "bin" / "maldoc"
    version = subprocess.run([str(maldoc), "--version"], env=env, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr  # the service image runs the CLI too

    image_env = {**env, **env_of_final_stage(), "MALDOC_HOST": "127.0.0.1", "MALDOC_PORT": str(_free_port()),
                 "MALDOC_WORKERS": "1"}
    command = json.loads(final("ENTRYPOINT")[0]) + json.loads(final("CMD")[0])
    health = final("HEALTHCHECK")[0].split(" CMD ", 1)[1]
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=image_env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"the image's command exited:\n{log.read_text()[-3000:]}"
            if subprocess.run(health, shell=True, env=image_env, capture_output=True).returncode == 0:
                break
            assert time.monotonic() < deadline, "HEALTHCHECK never passed"
            time.sleep(1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
