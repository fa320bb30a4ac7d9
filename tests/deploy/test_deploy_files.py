"""docs/deploy/ stays true: every file parses, every command it runs exists and takes its options,
probes point at paths that answer, and stop timeouts outlast the workers' shutdown grace."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

from jobs.conf import engine_settings
from tests.conftest import ROOT
from tests.deploy.files import (
    DAPHNE_APP,
    DEPLOY,
    REQUIRED,
    check_command,
    compose,
    env_file,
    kubernetes,
    systemd_units,
    unit_values,
)

PROBE_PATHS = {"/healthz", "/readyz"}


def containers() -> list[dict[str, Any]]:
    found = []
    for (kind, _), doc in kubernetes().items():
        if kind in {"Deployment", "Job"}:
            found += doc["spec"]["template"]["spec"]["containers"]
    return found


def test_kubernetes_has_web_and_worker_deployments_a_migrate_job_a_service_and_an_ingress() -> None:
    assert set(kubernetes()) == {
        ("ConfigMap", "jobdeck"),
        ("Secret", "jobdeck"),
        ("Job", "jobdeck-migrate"),
        ("Deployment", "jobdeck-web"),
        ("Service", "jobdeck-web"),
        ("Deployment", "jobdeck-worker"),
        ("Ingress", "jobdeck"),
    }


def test_every_kubernetes_command_and_exec_probe_runs() -> None:
    for container in containers():
        check_command(container["command"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "exec" in container.get(probe, {}):
                check_command(container[probe]["exec"]["command"])


def test_every_compose_command_and_health_check_runs() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker"} <= set(services)
    for name in ("migrate", "web", "worker"):
        check_command(services[name]["command"])
    check_command(services["worker"]["healthcheck"]["test"][1:])
    assert all("healthcheck" in services[name] for name in ("postgres", "redis", "web", "worker"))
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_every_systemd_command_runs() -> None:
    for name, text in systemd_units().items():
        for line in unit_values(text, "ExecStart"):
            if "systemctl" in line:
                continue
            # The specifiers and the per-instance options, as systemd would fill them in.
            line = line.replace("%H", "host1").replace("%i", "8001" if "web" in name else "default")
            argv = shlex.split(line.replace("$WORKER_ARGS", "-q default,emails -w 8 -k thread"))
            check_command(argv)


def test_the_dockerfile_runs_as_a_user_collects_static_and_leaves_migrate_to_its_own_job() -> None:
    lines = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text()).splitlines()
    instructions = [line.split(None, 1) for line in lines if line.strip() and not line.startswith("#")]
    users = [arg.strip() for word, arg in instructions if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert any(word == "RUN" and "manage.py collectstatic" in arg for word, arg in instructions)
    cmd = [arg for word, arg in instructions if word == "CMD"][-1]
    entrypoint = [arg for word, arg in instructions if word == "ENTRYPOINT"][-1]
    assert "migrate" not in cmd + entrypoint
    # The image's default command is the web process that compose and Kubernetes run.
    import json

    assert json.loads(cmd) == compose()["services"]["web"]["command"]
    copied = [arg.split()[0] for word, arg in instructions if word == "COPY" and arg.split()[0] != "."]
    assert all((ROOT / path).exists() for path in copied), copied


def test_daphnes_application_imports_in_production_mode(tmp_path) -> None:
    module, attribute = DAPHNE_APP.split(":")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JOBDECK_"))}
    environ.pop("DATABASE_URL", None)
    environ.update(
        JOBDECK_ENV="production",
        DJANGO_SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="jobs.example.com",
        JOBDECK_VAR_DIR=str(tmp_path),
    )
    code = f"import importlib; print(type(getattr(importlib.import_module({module!r}), {attribute!r})).__name__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)

    assert (result.returncode, result.stdout.strip()) == (0, "ProtocolTypeRouter"), result.stderr


def probe_targets() -> list[tuple[str, str]]:
    """(path, Host header) of every HTTP probe in Kubernetes and compose."""
    targets = []
    for container in containers():
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            http = container.get(probe, {}).get("httpGet")
            if http:
                hosts = [h["value"] for h in http.get("httpHeaders", []) if h["name"] == "Host"]
                targets.append((http["path"], hosts[0] if hosts else ""))
    web_check = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    targets += [(path, "compose") for path in re.findall(r"http://127\.0\.0\.1:8000(/\w+)", web_check)]
    return targets


def test_http_probes_point_at_paths_that_answer(client: Client, db: None) -> None:
    targets = probe_targets()
    assert {path for path, _ in targets} == PROBE_PATHS
    for path, _ in targets:
        response = client.get(path)
        assert (path, response.status_code, response.json()) == (path, 200, {"status": "OK"})


def test_kubernetes_probes_send_an_allowed_host() -> None:
    allowed = kubernetes()["ConfigMap", "jobdeck"]["data"]["DJANGO_ALLOWED_HOSTS"].split(",")
    hosts = {host for _, host in probe_targets() if host != "compose"}
    assert hosts and hosts <= set(allowed)


def seconds(value: str | int) -> float:
    match = re.fullmatch(r"(\d+)(s|m)?", str(value))
    assert match, value
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_every_stop_timeout_outlasts_the_workers_shutdown_grace() -> None:
    grace = float(kubernetes()["ConfigMap", "jobdeck"]["data"]["JOBDECK_SHUTDOWN_GRACE_SECONDS"])
    assert grace == engine_settings().shutdown_grace_seconds  # the files document the default
    worker_pod = kubernetes()["Deployment", "jobdeck-worker"]["spec"]["template"]["spec"]
    assert worker_pod["terminationGracePeriodSeconds"] > grace

    worker = compose()["services"]["worker"]
    assert float(worker["environment"]["JOBDECK_SHUTDOWN_GRACE_SECONDS"]) == grace
    assert worker["stop_signal"] == "SIGTERM"
    assert seconds(worker["stop_grace_period"]) > grace

    unit = systemd_units()["jobdeck-worker@.service"]
    assert float(env_file(DEPLOY / "systemd" / "jobdeck.env")["JOBDECK_SHUTDOWN_GRACE_SECONDS"]) == grace
    assert unit_values(unit, "KillSignal") == ["SIGTERM"]
    assert unit_values(unit, "KillMode") == ["mixed"]
    assert seconds(unit_values(unit, "TimeoutStopSec")[0]) > grace


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path) -> None:
    if shutil.which("systemd-analyze") is None:
        if REQUIRED:
            pytest.fail("systemd-analyze is required in CI (Debian: the systemd package)")
        pytest.skip("systemd-analyze is not installed here (CI has it); the units were not verified")
    # The units name /opt/jobdeck; verify checks that each ExecStart is executable, so point them
    # at this checkout, whose .venv has python and daphne.
    instances = []
    for name, text in systemd_units().items():
        (tmp_path / name).write_text(text.replace("/opt/jobdeck", str(ROOT)))
        instance = "8001" if "web" in name else "default"
        instances.append(name.replace("@.", f"@{instance}.") if "@." in name else name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *instances], cwd=tmp_path, capture_output=True, text=True
    )

    # verify only warns (exit 0) about an unknown key or a bad value: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
