"""The README's map names every stage the flows run, with the module that builds it."""

from __future__ import annotations

import re

from seqmask.paths import resolve_path


def test_the_readme_map_names_every_stage_and_its_module() -> None:
    from seqmask.app.root import load_experiment
    from seqmask.motion.pipeline import motion_compare_plan
    from seqmask.speech.pipeline import speech_compare_plan, speech_study_plan
    from seqmask.stage import stage_name
    from seqmask.text.pipeline import text_compare_plan

    config = load_experiment("tiny")
    study = {"seeds": [0], "variants": ["random"], "split": "valid", "points": {"a": {}}}
    plans = [
        *speech_compare_plan(config),
        *speech_study_plan(config, study),
        *text_compare_plan(config),
        *motion_compare_plan(config),
    ]
    modules = {stage.module for pipeline, _ in plans for stage in pipeline.stages}
    rows = re.findall(r"^\| (`[^|]+`) \| `([^`]+)` \|", resolve_path("README.md").read_text(encoding="utf-8"), re.M)
    mapped = {path: names for names, path in rows}
    for module in sorted(modules):
        path = module.replace(".", "/") + ".py"
        assert path in mapped, f"README.md's map has no row for {path}"
        assert f"`{stage_name(__import__(module, fromlist=['build']))}" in mapped[path], (path, mapped[path])
    assert all(resolve_path(path).is_file() for path in mapped), [
        path for path in mapped if not resolve_path(path).is_file()
    ]
