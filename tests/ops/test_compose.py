"""docker-compose.yml without a Docker engine: valid against the Compose Specification's JSON schema, the UI on
loopback only, every secret from the git-ignored .env that .env.example documents, one seqmask image for every Python
service, workers for both work pools of ``seqmask deploy``.

``compose-spec.json`` is ``schema/compose-spec.json`` of github.com/compose-spec/compose-spec (Apache-2.0), unchanged.
"""

from __future__ import annotations

import json
import re
import subprocess

import jsonschema
import pytest
import yaml

from seqmask.paths import resolve_path

COMPOSE = resolve_path("docker-compose.yml")
SCHEMA = resolve_path("tests/ops/compose-spec.json")
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")
SECRET_KEYS = re.compile(r"PASSWORD|AUTH_STRING|SECRET|TOKEN|CONNECTION_URL|DB_URL")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_the_compose_file_is_valid_against_the_compose_specification(compose) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(compose)
    broken = {
        **compose,
        "services": {**compose["services"], "postgres": {**compose["services"]["postgres"], "healthcheck": "yes"}},
    }
    with pytest.raises(jsonschema.ValidationError):  # the schema does check: a healthcheck must be a mapping
        jsonschema.Draft7Validator(schema).validate(broken)


def test_only_the_prefect_ui_is_published_and_on_loopback(compose) -> None:
    published = {name: service["ports"] for name, service in compose["services"].items() if "ports" in service}
    assert published == {"prefect-server": ["127.0.0.1:4200:4200"]}


def test_every_secret_comes_from_the_env_file_that_git_ignores_and_the_example_documents(compose) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if not SECRET_KEYS.search(key):
                continue
            literal = VARIABLE.sub("", str(value))  # what is left once every ${VAR} is taken out
            leaked = re.search(r"//[^:/@]+:[^@]+@", literal) if key.endswith("_URL") else literal.strip()
            assert not leaked, f"{name}.{key} holds a literal secret: {value!r}"
    used = set(VARIABLE.findall(COMPOSE.read_text(encoding="utf-8")))
    example = resolve_path(".env.example").read_text(encoding="utf-8")
    documented = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert used == documented == {"POSTGRES_PASSWORD", "PREFECT_AUTH_STRING"}
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=resolve_path("."), check=False)
    assert ignored.returncode == 0, ".env must be git-ignored: it holds the secrets"


def test_one_image_runs_every_python_service_and_both_pools_have_workers(compose) -> None:
    from flows.deploy import POOLS

    services = compose["services"]
    assert {name for name, service in services.items() if service.get("image") != "seqmask:latest"} == {"postgres"}
    assert services["prefect-server"]["command"].startswith("seqmask server start")
    pools = {
        service["command"].split("--pool ")[1].split()[0]: name
        for name, service in services.items()
        if "prefect worker start" in service.get("command", "")
    }
    assert set(pools) == set(POOLS)
    assert "gpu" in services[pools["gpu"]]["profiles"] and "--resources GPU=1" in services["dask-worker-gpu"]["command"]
    assert all(
        "artifacts:/artifacts" in service["volumes"]
        for name, service in services.items()
        if name.startswith(("dask-worker", "prefect-worker"))
    )
