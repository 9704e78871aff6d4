"""Keys change only when they must: an edit changes the keys of the stages whose code reaches it and no others, and
a package upgrade changes the keys of the stages whose code imports it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqmask.paths import resolve_path

CODE_HASHES = """
import json
from seqmask.app.root import load_experiment
from seqmask.codehash import code_hash
from seqmask.motion.pipeline import motion_compare_plan
from seqmask.speech.pipeline import speech_compare_plan, speech_prep_plan
from seqmask.text.pipeline import text_compare_plan

config = load_experiment("tiny")
plans = {"speech": [*speech_prep_plan(config), *speech_compare_plan(config)], "text": text_compare_plan(config),
         "motion": motion_compare_plan(config)}
print(json.dumps({
    pipeline: {stage.name: code_hash(stage.module) for plan_pipeline, _ in plan for stage in plan_pipeline.stages}
    for pipeline, plan in plans.items()
}))
"""


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The project's packages copied (configs and data linked), for edits the real tree must not see."""
    tree = tmp_path_factory.mktemp("project")
    for package in ("seqmask", "flows"):
        shutil.copytree(resolve_path(package), tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    for shared in ("configs", "data"):
        (tree / shared).symlink_to(resolve_path(shared))
    return tree


def _code_hashes(tree: Path) -> dict[str, dict[str, str]]:
    """Pipeline -> stage -> the code hash of its module, computed by a fresh interpreter importing ``tree``."""
    found = subprocess.run(
        [sys.executable, "-c", CODE_HASHES],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr[-3000:]
    return json.loads(found.stdout)


def _edited(tree: Path, module: str, old: str, new: str) -> dict[str, dict[str, str]]:
    """The code hashes with ``old`` replaced by ``new`` in ``module`` (a path under ``tree``), then the edit undone."""
    path = tree / module
    original = path.read_text(encoding="utf-8")
    assert original.count(old) == 1, f"{module}: expected {old!r} once"
    path.write_text(original.replace(old, new), encoding="utf-8")
    try:
        return _code_hashes(tree)
    finally:
        path.write_text(original, encoding="utf-8")


@pytest.fixture(scope="module")
def unchanged(project_copy: Path) -> dict[str, dict[str, str]]:
    return _code_hashes(project_copy)


def test_the_copy_hashes_as_the_project_does(unchanged: dict[str, dict[str, str]]) -> None:
    from seqmask.app.root import load_experiment
    from seqmask.codehash import code_hash
    from seqmask.speech.pipeline import speech_prep_plan

    [(prep, _)] = speech_prep_plan(load_experiment("tiny"))
    assert {stage.name: code_hash(stage.module) for stage in prep.stages}.items() <= unchanged["speech"].items()


def test_editing_the_store_changes_no_stage_key(project_copy: Path, unchanged: dict[str, dict[str, str]]) -> None:
    edited = _edited(
        project_copy,
        "seqmask/store.py",
        "        removed: builtins.list[str] = []\n",
        "        removed: list[str] = []\n",
    )
    assert edited == unchanged


def test_editing_lem_parameters_changes_no_speech_or_motion_key(
    project_copy: Path, unchanged: dict[str, dict[str, str]]
) -> None:
    edited = _edited(
        project_copy, "seqmask/masking/params/lem.py", "    mask_prob: float = 0.15\n", "    mask_prob: float = 0.2\n"
    )
    assert edited["speech"] == unchanged["speech"] and edited["motion"] == unchanged["motion"]
    changed = {name for name, digest in edited["text"].items() if digest != unchanged["text"][name]}
    assert any(name.startswith("text-continual-") for name in changed)  # the stages that mask with LEM do change
    unmasked = ("text-prep", "text-tokenizer", "text-taggers", "text-tag", "text-ngrams", "text-mine-")
    assert not any(name.startswith(unmasked) for name in changed), sorted(changed)  # nor do those that never mask


def test_a_different_package_version_changes_the_keys_of_the_stages_that_import_it(monkeypatch, tmp_path) -> None:
    from importlib import metadata

    from seqmask import stage as stage_module
    from seqmask.app.root import load_experiment
    from seqmask.codehash import closure_packages
    from seqmask.motion.pipeline import motion_prep_plan
    from seqmask.stage import Runner
    from seqmask.store import ArtifactStore

    config = load_experiment("tiny")
    [(prep, _)] = motion_prep_plan(config)
    [motion_prep] = prep.stages
    imported = closure_packages(motion_prep.module)
    assert "numpy" in imported and "torch" not in imported, imported
    runner = Runner(ArtifactStore(tmp_path / "store"))
    key = runner.key(motion_prep, config, {})

    real = metadata.version

    def upgraded(package: str):
        return lambda name: "99.0" if name == package else real(name)

    monkeypatch.setattr(stage_module.metadata, "version", upgraded("numpy"))
    assert runner.key(motion_prep, config, {}) != key  # numpy 99.0 recomputes what numpy made
    monkeypatch.setattr(stage_module.metadata, "version", upgraded("torch"))
    assert runner.key(motion_prep, config, {}) == key  # its code never imports torch
