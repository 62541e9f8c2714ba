"""deploy/compose.yaml, the Dockerfile and deploy/make-secrets.sh hold together: every setting they
pass is one Tally has, every secret is a file the script writes and Tally reads, the services are
the ones deploy/README.md describes, and the image is multi-stage, non-root and Node-free. Images
cannot be pulled here: `docker compose config` (or `docker-compose config`) checks the file where
either is installed, and nothing is built."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tally.keys import master_key, operator_key
from tally.settings import Settings
from tests.support.server import ROOT

DEPLOY = ROOT / "deploy"
TALLY_SERVICES = ("migrate", "api", "worker")


def compose_tool() -> list[str] | None:
    """``docker compose`` (v2), else ``docker-compose`` (v1), else None."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_services_are_the_ones_the_readme_describes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "ipfs", "migrate", "api", "worker", "proxy"}
    assert services["migrate"]["command"] == ["db", "upgrade"] and services["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["image"] == services["migrate"]["image"]
    assert services["api"]["command"][:3] == ["serve", "--no-jobs", "--no-migrate"]
    assert services["api"]["deploy"]["replicas"] == "${TALLY_API_REPLICAS:-3}"
    assert services["worker"] == services["worker"] | {"command": ["worker"], "deploy": {"replicas": 2}}
    assert "5001" not in str(services["ipfs"].get("ports")), "the IPFS RPC API has no authentication"
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "dynamic a api 8000" in caddy and "X-Request-Id" in caddy


def test_every_setting_is_one_tally_has_and_no_secret_is_in_the_environment(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in TALLY_SERVICES:
        service = compose["services"][name]
        for variable, value in service["environment"].items():
            assert variable.startswith("TALLY_") and variable.removeprefix("TALLY_").lower() in fields, variable
            assert not any(word in variable for word in ("KEY", "PASSWORD", "TOKEN", "DATABASE_URL")), variable
            assert "secret" not in str(value).lower() or variable == "TALLY_SECRETS_DIR"
        for secret in service["secrets"]:
            assert secret.startswith("tally_") and secret.removeprefix("tally_") in fields, secret
            assert compose["secrets"][secret] == {"file": f"./secrets/{secret}"}
    # Only workers hold the anchor key; only replicas the API keys.
    assert "tally_anchor_key" in compose["services"]["worker"]["secrets"]
    assert "tally_anchor_key" not in compose["services"]["api"]["secrets"]
    assert "tally_admin_api_key" not in compose["services"]["worker"]["secrets"]
    example = dict(line.split("=", 1) for line in (DEPLOY / "example.env").read_text().splitlines()
                   if line and not line.startswith("#"))
    referenced = {v for v in example if f"${{{v}" in (DEPLOY / "compose.yaml").read_text()}
    assert referenced == set(example) - {"COMPOSE_PROJECT_NAME"}


def test_the_secret_files_the_script_writes_are_what_tally_reads(tmp_path: Path, compose: dict[str, Any]) -> None:
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy, ignore=shutil.ignore_patterns(".env"))
    for stale in (deploy / "secrets").iterdir():
        if stale.name != ".gitignore":
            stale.unlink()
    subprocess.run(["sh", str(deploy / "make-secrets.sh")], check=True, capture_output=True)
    secrets = deploy / "secrets"
    assert {p.name for p in secrets.iterdir()} == set(compose["secrets"]) | {".gitignore"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in secrets.iterdir() if p.name != ".gitignore")
    again = subprocess.run(["sh", str(deploy / "make-secrets.sh")], check=True, capture_output=True, text=True)
    assert again.stdout == ""  # written once: a key is never replaced
    os.environ["TALLY_SECRETS_DIR"] = str(secrets)
    try:
        settings = Settings(home=tmp_path / "home")
    finally:
        del os.environ["TALLY_SECRETS_DIR"]
    assert settings.database_url is not None and settings.database_url.startswith("postgresql+psycopg://tally:")
    assert settings.database_url.split(":")[2].split("@")[0] == (secrets / "postgres_password").read_text()
    assert operator_key(settings) and master_key(settings) is not None and settings.admin_api_key is not None
    assert not (tmp_path / "home").exists()  # nothing was generated: the keys came from the files
    tool = compose_tool()
    if tool is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed: the checks above still ran")
    done = subprocess.run([*tool, "-f", str(deploy / "compose.yaml"), "--env-file", str(deploy / "example.env"),
                           "config", "--quiet"], capture_output=True, text=True, cwd=deploy)
    assert done.returncode == 0, done.stderr


def test_the_image_is_multi_stage_non_root_and_has_no_node() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[1].endswith(" AS runtime")
    runtime = dockerfile.split(stages[1], 1)[1]
    assert "USER tally:tally" in runtime and "--uid 10001" in runtime
    assert "COPY --from=build /opt/tally /opt/tally" in runtime
    instructions = "\n".join(line for line in dockerfile.lower().splitlines() if not line.startswith("#"))
    assert not any(word in instructions for word in ("node", "npm", "hardhat"))
    assert 'ENTRYPOINT ["tally"]' in runtime
    # The contract artifacts are package data of the installed image (pyproject.toml).
    assert {p.name for p in (ROOT / "anchoring" / "artifacts").glob("*.json")} >= {"TallyAnchor.json",
                                                                                  "TallyRewards.json"}
    assert '"*.json"' in (ROOT / "pyproject.toml").read_text()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1:2] == ["*"] and "!anchoring/" in ignored
