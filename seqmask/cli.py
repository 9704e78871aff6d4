"""``seqmask run|rerun|train|deploy|status|artifacts|eval|transcribe|mine|generate|server``: the command line over flows
and the artifact store."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqmask.app.root import COMMANDS, FLOWS, ExperimentConfig, FlowSpec, load, load_experiment
from seqmask.config import absolute_paths, parse_overrides, to_dict
from seqmask.experiment.comparison import SUMMARY
from seqmask.runlog import latest_runs
from seqmask.schema import ConfigError
from seqmask.stage import Plan, Runner, StageFailed, dry_run
from seqmask.store import ArtifactCorrupt, ArtifactRef, ArtifactStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqmask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a flow; finished stages are reused from the artifact store")
    flows = run.add_subparsers(dest="flow", required=True, metavar="FLOW")
    for name, spec in FLOWS.items():
        flow = _flow_parser(flows, name, spec)
        flow.add_argument("--from", dest="from_stage", metavar="STAGE", help="recompute STAGE and every stage after it")
        flow.add_argument("--dask-address", help="tcp://host:8786 of a Dask scheduler (default: a LocalCluster)")
        flow.add_argument(
            "--dry-run",
            action="store_true",
            help="print every stage with its key and whether it would be reused; run nothing",
        )

    train = commands.add_parser(
        "train", help="one training stage of a flow; data-parallel under `torchrun --nproc-per-node N -m seqmask.cli`"
    )
    train_flows = train.add_subparsers(dest="flow", required=True, metavar="FLOW")
    for name, spec in FLOWS.items():
        _flow_parser(train_flows, name, spec).add_argument(
            "stage", help="a training stage of the flow, e.g. motion-train-none-s0"
        )

    rerun = commands.add_parser(
        "rerun", help="run the latest (or given) run's command again: only failed and changed stages run"
    )
    rerun.add_argument("run_id", nargs="?", help="run id from `seqmask status` (default: the latest run)")

    for add_commands in dict.fromkeys(add for add, _ in COMMANDS.values()):
        add_commands(commands)

    deploy = commands.add_parser(
        "deploy", help="register the scheduled deployments of a YAML file on the Prefect server (cpu/gpu pools)"
    )
    deploy.add_argument("--file", type=Path, help="deployments file (default: configs/deployments/default.yaml)")
    deploy.add_argument("--dask-address", help="tcp://host:8786 of the Dask scheduler the deployed flows map on")

    server = commands.add_parser("server", help="the Prefect server and UI (prefect server start) on 127.0.0.1")
    server_verbs = server.add_subparsers(dest="verb", required=True)
    server_start = server_verbs.add_parser(
        "start", help="SQLite by default; SEQMASK_DB_URL names another database (Postgres)"
    )
    server_start.add_argument(
        "--host", default="127.0.0.1", help="bind address (default: 127.0.0.1; others need an API auth string)"
    )
    server_start.add_argument("--port", type=int, default=4200, help="port (default: 4200)")

    status = commands.add_parser("status", help="stages of the latest runs: state, duration, artifact")
    status.add_argument("-n", "--runs", type=int, default=3, help="how many runs to show (default: 3)")

    artifacts = commands.add_parser("artifacts", help="inspect the artifact store")
    verbs = artifacts.add_subparsers(dest="verb", required=True)
    verbs.add_parser("ls", help="list published artifacts")
    show = verbs.add_parser("show", help="print an artifact's lineage")
    show.add_argument("key", help="artifact key or unique prefix")
    verify = verbs.add_parser("verify", help="check every file's sha256 (all artifacts, or one)")
    verify.add_argument("key", nargs="?")
    gc = verbs.add_parser("gc", help="remove artifacts no recent run uses, corrupt copies and stale temp dirs")
    gc.add_argument("--keep-runs", type=int, default=5, help="keep what the latest N runs used (default: 5)")
    gc.add_argument("--dry-run", action="store_true")
    return parser


def _flow_parser(flows: Any, name: str, spec: FlowSpec) -> argparse.ArgumentParser:
    """A flow's parser with the options every command over a flow's config takes."""
    flow = flows.add_parser(name, help=spec.help, description=spec.help)
    flow.add_argument("--preset", default="small", help="preset name in configs/ or a YAML path (default: small)")
    flow.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. speech_prep.synth.target_hours=0.5 (repeatable)",
    )
    spec.add_options(flow)
    return flow


MODEL_COMMANDS = ("run", "rerun", "train", "eval", "transcribe")
"""Commands that build fairseq2 models (in stage threads, for a flow)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "distributed", "prefect.server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command in MODEL_COMMANDS:
            from seqmask.fairseq2_runtime import init_fairseq2_runtime

            init_fairseq2_runtime()  # once, on this thread, before stages build models in threads
        if args.command == "run":
            return _run(args)
        if args.command == "rerun":
            return _rerun(args)
        if args.command == "train":
            return _train(args)
        if args.command == "status":
            return _status(args)
        if args.command in COMMANDS:
            return COMMANDS[args.command][1](args)
        if args.command == "deploy":
            from flows.deploy import DEFAULT_FILE, deploy_all, print_rows

            print_rows(deploy_all(args.file or DEFAULT_FILE, dask_address=args.dask_address))
            return 0
        if args.command == "server":
            from flows.server import start

            start(args.host, args.port)  # replaces this process
        return _artifacts(args)
    except (ConfigError, FileNotFoundError, KeyError, ValueError, ArtifactCorrupt) as err:
        print(f"seqmask: error: {err}", file=sys.stderr)
        return 2


def resolve_run(args: argparse.Namespace) -> tuple[FlowSpec, ExperimentConfig, dict[str, Any], Plan]:
    """The flow, its config (``--set``, the flow's options and ``--dask-address`` over the preset; command-line
    paths against the current directory), its extra parameters and the plan it runs: all checked, nothing run."""
    spec = FLOWS[args.flow]
    overrides = {**parse_overrides(args.overrides), **spec.overrides(args)}
    if getattr(args, "dask_address", None) is not None:
        overrides["orchestration.dask_address"] = args.dask_address
    labelled = [
        f"{key}={json.dumps(value)}" for key, value in absolute_paths(ExperimentConfig, overrides, Path.cwd()).items()
    ]
    config = load_experiment(args.preset, labelled)
    extra = spec.extra(args)
    plan = load(spec.plan)(config, **extra)
    if getattr(args, "from_stage", None) is not None and not any(
        args.from_stage in pipeline.stage_names() for pipeline, _ in plan
    ):
        stages = sorted({name for pipeline, _ in plan for name in pipeline.stage_names()})
        raise ValueError(
            f"--from {args.from_stage}: the {args.flow} flow has no such stage (stages: {', '.join(stages)})"
        )
    return spec, config, extra, plan


def _run(args: argparse.Namespace) -> int:
    spec, config, extra, plan = resolve_run(args)  # every check before Prefect starts
    if args.dry_run:
        return _print_dry_run(plan, args.from_stage)
    from flows.embedded import prefect_api

    flow_fn = load(spec.entrypoint)
    try:
        with prefect_api():
            refs = flow_fn(config=to_dict(config), from_stage=args.from_stage, **extra)
    except StageFailed as err:
        print(
            f"seqmask: {args.flow} failed at stage {err.stage!r}: {type(err.error).__name__}: {err.error}",
            file=sys.stderr,
        )
        print("seqmask: fix the cause and run `seqmask rerun`: finished stages are reused", file=sys.stderr)
        return 1
    final = ArtifactRef.from_dict(list(refs.values())[-1])
    print(f"\n{args.flow}: results in {final.path}")
    if (final.path / SUMMARY).is_file():
        print((final.path / SUMMARY).read_text(encoding="utf-8"))
    return 0


def _train(args: argparse.Namespace) -> int:
    from flows.torchrun import train_stage

    _, config, _, plan = resolve_run(args)
    ref = train_stage(plan, args.stage, preset=config.preset)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{args.stage}: {ref.key[:12]} in {ref.path}")
        if (ref.path / "summary.json").is_file():
            print((ref.path / "summary.json").read_text(encoding="utf-8"))
    return 0


def _print_dry_run(plan: Plan, from_stage: str | None) -> int:
    rows = dry_run(plan, Runner(ArtifactStore()), from_stage=from_stage)
    width = max(len(f"{row.pipeline}/{row.stage}") for row in rows)
    paths = {row.module: row.module.replace(".", "/") + ".py" for row in rows}  # the file that builds the stage
    module_width = max(len(path) for path in paths.values())
    for row in rows:
        name, key = f"{row.pipeline}/{row.stage}", (row.key or "?")[:12]
        print(f"{name:<{width}}  {paths[row.module]:<{module_width}}  {key:<12}  {row.action}")
    computed = sum(row.action != "reuse" for row in rows)
    print(f"{len(rows) - computed} of {len(rows)} stages would be reused, {computed} computed")
    return 0


def _rerun(args: argparse.Namespace) -> int:
    runs = latest_runs(ArtifactStore().runs, limit=1000)
    if not runs:
        raise ValueError("no runs recorded yet: start one with `seqmask run FLOW`")
    chosen = runs[0] if args.run_id is None else next((r for r in runs if r["run_id"] == args.run_id), None)
    if chosen is None:
        raise ValueError(f"no run {args.run_id!r} (see `seqmask status`)")
    if chosen["state"] == "corrupt":
        raise ValueError(f"{chosen['error']}; name another run (`seqmask status`) or delete the file")
    argv = chosen["argv"][1:]
    if not argv or argv[0] != "run":
        raise ValueError(f"run {chosen['run_id']} was not started by `seqmask run` (argv: {chosen['argv']})")
    cwd = chosen.get("cwd") or os.getcwd()
    print(f"seqmask: rerunning {chosen['run_id']} in {cwd}: seqmask {' '.join(argv)}")
    os.chdir(cwd)  # the run's relative paths meant what they meant there
    return main(argv)


def _status(args: argparse.Namespace) -> int:
    runs = latest_runs(ArtifactStore().runs, limit=args.runs)
    if not runs:
        print("no runs recorded yet")
    for run in runs:
        if run["state"] == "corrupt":
            print(f"{run['run_id']}  CORRUPT: {run['error']}")
            continue
        print(f"{run['run_id']}  {run['flow']}  preset={run['preset']}  {run['state']}  started {run['started']}")
        for name, stage in run["stages"].items():
            seconds = "-" if stage.get("seconds") is None else f"{stage['seconds']:.2f}s"
            key = (stage.get("key") or "-")[:12]
            error = f"  {stage['error']}" if stage.get("error") else ""
            print(f"  {name:<14} {stage['state']:<9} {seconds:>9}  {key}{error}")
    return 0


def _artifacts(args: argparse.Namespace) -> int:
    store = ArtifactStore()
    if args.verb == "ls":
        for item in store.list():
            if item["problems"]:
                print(f"{item['key'][:12]}  CORRUPT: " + "; ".join(item["problems"]))
            else:
                print(
                    f"{item['key'][:12]}  {item['stage']:<14} {item['created']}  {item['files']:>6} files  "
                    f"{item['bytes'] / 1e6:9.1f} MB"
                )
        return 0
    if args.verb == "show":
        key = store.resolve(args.key)
        try:
            print(json.dumps(store.lineage(key), indent=2))
        except ArtifactCorrupt as err:
            print(f"{key[:12]}: CORRUPT: " + "; ".join(err.problems))
            return 1
        return 0
    if args.verb == "verify":
        problems = {args.key: store.verify(store.resolve(args.key))} if args.key else store.verify_all()
        bad = {key: found for key, found in problems.items() if found}
        for key, found in bad.items():
            print(f"{key[:12]}: CORRUPT: " + "; ".join(found))
        print(f"{len(problems) - len(bad)} of {len(problems)} artifacts verify")
        return 1 if bad else 0
    runs = latest_runs(store.runs, args.keep_runs)
    corrupt = [run["error"] for run in runs if run["state"] == "corrupt"]
    if corrupt:  # its artifacts are unknown: collecting now could remove what that run needs
        raise ValueError(f"{corrupt[0]}; gc keeps what the latest runs used, so fix or delete that record first")
    keep = {stage["key"] for run in runs for stage in run["stages"].values() if stage.get("key")}
    removed = store.gc(keep, dry_run=args.dry_run)
    print(
        ("would remove" if args.dry_run else "removed")
        + f" {len(removed)}"
        + "".join(f"\n  {path}" for path in removed)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
