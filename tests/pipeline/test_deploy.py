"""What can be checked of the Kubernetes path without a cluster or a Docker daemon: the image's build context
holds everything the package needs, and the run Job that dagster-k8s builds from the shipped Helm values
carries the settings and the Secret (never a secret value)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "pipeline" / "deploy"


def dockerignore() -> list[str]:
    return [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    parts = Path(rel).parts
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat.removeprefix("**/")) \
                or any(fnmatch.fnmatch(p, pat.removeprefix("**/")) for p in parts) \
                or rel.startswith(pat + "/"):
            return True
    return False


def copied() -> list[str]:
    """The sources of the Dockerfile's COPY instructions."""
    out = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        m = re.match(r"^COPY\s+(.+)\s+\S+$", line.strip())
        if m:
            out += m.group(1).split()
    return out


def test_the_build_context_holds_what_the_package_needs(tmp_path):
    """Copy exactly what the Dockerfile copies (minus .dockerignore), build the wheel from it offline, and find
    in it every file the pipeline reads at run time."""
    sources, patterns = copied(), dockerignore()
    assert {"pyproject.toml", "constraints.txt", "pipeline", "assets", "warehouse"} <= set(sources)
    context = tmp_path / "context"
    for src in sources:
        path = REPO / src
        assert path.exists(), f"the Dockerfile copies {src}, which is not in the repository"
        assert not ignored(src, patterns), f"{src} is copied but .dockerignore excludes it"
        if path.is_dir():
            shutil.copytree(path, context / src, ignore=lambda d, names: [
                n for n in names if ignored(str((Path(d) / n).relative_to(REPO)), patterns)])
        else:
            (context / src).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, context / src)
    assert not list(context.rglob("__pycache__")) and not list(context.rglob(".env"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(context)], check=True, capture_output=True, timeout=300)
    [wheel] = list(wheels.glob("liveclass-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    models = sorted(p.name for p in (REPO / "warehouse" / "models").glob("*.sql"))
    assert models and all(f"warehouse/models/{m}" in names for m in models)
    for needed in ("pipeline/dagster.yaml", "pipeline/definitions.py", "assets/publish/report.py",
                   "warehouse/build.py"):
        assert needed in names, needed
    for folder in ("assets/publish/templates", "assets/publish/vendor/chartjs", "assets/publish/vendor/fonts"):
        files = [p for p in (REPO / folder).iterdir() if p.is_file()]
        assert files and all(f"{folder}/{p.name}" in names for p in files), folder
    assert not any(n.startswith(("tests/", "data/", "dagster_home/")) for n in names)
    # the extra the image installs exists and pins the deployment's integrations
    from importlib.metadata import metadata

    extras = metadata("liveclass").get_all("Provides-Extra") or []
    assert "deploy" in extras
    assert "pip install -c constraints.txt \".[deploy,s3]\"" in (DEPLOY / "Dockerfile").read_text()


def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm-values.yaml").read_text())


def test_helm_values_serve_the_definitions_with_a_readiness_probe_and_secrets_from_a_secret():
    v = values()
    [dep] = v["dagster-user-deployments"]["deployments"]
    assert dep["dagsterApiGrpcArgs"] == ["--module-name", "pipeline.definitions"]
    cmd = re.search(r'CMD \[(.*)\]', (DEPLOY / "Dockerfile").read_text()).group(1)
    assert '"pipeline.definitions"' in cmd and f'"{dep["port"]}"' in cmd  # the image's own command matches
    probe = dep["readinessProbe"]["exec"]["command"]
    assert probe[:3] == ["dagster", "api", "grpc-health-check"] and probe[probe.index("-p") + 1] == str(dep["port"])
    assert dep["envSecrets"] == [{"name": "liveclass-secrets"}]
    text = (DEPLOY / "helm-values.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "LIVECLASS_SECRET" not in body and "sandbox-secret" not in body  # only the comment says how to make it
    env_names = {e["name"] for e in dep["env"]}
    assert "LIVECLASS_SECRET" not in env_names and {"LIVECLASS_DATA_DIR", "LIVECLASS_BASE_URL"} <= env_names


def test_the_run_job_dagster_k8s_builds_carries_the_env_and_the_secret():
    from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job

    v = values()
    launcher = v["runLauncher"]["config"]["k8sRunLauncher"]
    [dep] = v["dagster-user-deployments"]["deployments"]
    config = DagsterK8sJobConfig(
        job_image=f"{dep['image']['repository']}:{dep['image']['tag']}",
        dagster_home="/opt/dagster/dagster_home",
        image_pull_policy=dep["image"]["pullPolicy"],
        instance_config_map="dagster-instance",
        env_secrets=[s["name"] for s in launcher["envSecrets"]],
        env_vars=launcher["envVars"],
        volume_mounts=launcher["volumeMounts"],
        volumes=launcher["volumes"],
        resources=launcher["resources"],
    )
    job = construct_dagster_k8s_job(config, ["dagster", "api", "execute_run", "{}"], "dagster-run-0123",
                                     component="run_worker")
    [container] = job.spec.template.spec.containers
    assert container.image == "liveclass:0.1.0"
    assert [e.secret_ref.name for e in container.env_from if e.secret_ref] == ["liveclass-secrets"]
    env = {e.name: e.value for e in container.env}
    assert env["LIVECLASS_DATA_DIR"] == "/data" and env["LIVECLASS_BASE_URL"].startswith("https://")
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert "LIVECLASS_SECRET" not in env  # only through the Secret
    assert [m.mount_path for m in container.volume_mounts if m.name == "liveclass-data"] == ["/data"]
    assert container.args[:3] == ["dagster", "api", "execute_run"]


def test_runs_execute_in_process_inside_their_pod():
    from dagster import in_process_executor

    from pipeline.definitions import DAILY_JOB, PUBLISH_JOB, defs

    for name in (DAILY_JOB, PUBLISH_JOB):
        assert defs.resolve_job_def(name).executor_def is in_process_executor, name


def test_the_code_location_serves_the_jobs_as_its_own_grpc_server(tmp_path):
    """`dagster api grpc` as a deployment runs it, and a client loading the shipped grpc workspace (with the
    port changed to the free one) sees the jobs."""
    import os
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVECLASS_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp_path / "dh"), "LIVECLASS_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "dh").mkdir()
    server = subprocess.Popen([str(bin_dir / "dagster"), "api", "grpc", "--module-name", "pipeline.definitions",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            health = subprocess.run([str(bin_dir / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                                    env=env, capture_output=True, text=True, timeout=60)
            if health.returncode == 0:
                break
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()[-3000:]
            time.sleep(1)
        workspace = yaml.safe_load((DEPLOY / "workspace-grpc.yaml").read_text())
        workspace["load_from"][0]["grpc_server"]["port"] = port
        (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        jobs = subprocess.run([str(bin_dir / "dagster"), "job", "list", "-w", str(tmp_path / "workspace.yaml")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert jobs.returncode == 0, jobs.stderr[-3000:]
        assert "daily_extract" in jobs.stdout and "publish" in jobs.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
