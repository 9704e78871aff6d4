"""Tests for seqmask.store: keys, publish/reuse, corruption, crash safety, locking, gc."""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqmask.files import partial_path, read_build_record, record_build
from seqmask.store import ArtifactNotFound, ArtifactRef, ArtifactStore, canonical_json, default_root, make_key

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY_ARGS = dict(
    stage="tokenize",
    version=1,
    config={"vocab": 8000, "lang": "en"},
    code_hash="c0de",
    inputs={"corpus": "d1"},
    packages={"python": "3.11.7", "numpy": "2.1.0"},
)


def write_files(files: dict[str, bytes]):
    """A build function writing ``files`` (relative path -> content) and counting its calls."""

    def build(out: Path) -> None:
        build.calls += 1
        for rel, content in files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(content)

    build.calls = 0
    return build


def run_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=REPO_ROOT, **kwargs)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for condition"
        time.sleep(0.02)


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


def test_default_root_and_canonical_json(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQMASK_HOME", str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv("SEQMASK_HOME")
    assert default_root() == Path.home() / ".cache" / "seqmask"
    assert canonical_json({"b": Path("/x"), "a": "é"}) == '{"a":"é","b":"/x"}'


def test_make_key_is_stable_and_sensitive_to_every_field():
    key = make_key(**KEY_ARGS)
    assert key == make_key(**KEY_ARGS)
    assert len(key) == 64 and int(key, 16) >= 0
    reordered = {**KEY_ARGS, "config": {"lang": "en", "vocab": 8000}}
    assert make_key(**reordered) == key
    changes = {
        "stage": "align",
        "version": 2,
        "config": {"vocab": 16000, "lang": "en"},
        "code_hash": "c0df",
        "inputs": {"corpus": "d2"},
        "packages": {"python": "3.11.7", "numpy": "2.2.0"},
    }
    for field, value in changes.items():
        assert make_key(**{**KEY_ARGS, field: value}) != key, field


def test_publish_then_reuse_without_rebuilding(store):
    key = make_key(**KEY_ARGS)
    build = write_files({"vocab.txt": b"a\nb\n", "shards/0.bin": b"\x00\x01"})
    ref, reused = store.get_or_build(key, stage="tokenize", build=build, lineage={"note": "x"})
    assert (reused, build.calls) == (False, 1)
    assert ref.path == store.root / "objects" / key
    assert (ref.path / "vocab.txt").read_bytes() == b"a\nb\n"
    assert (ref.path / "shards/0.bin").read_bytes() == b"\x00\x01"

    digests = json.loads((ref.path / "digests.json").read_text())
    assert list(digests) == ["shards/0.bin", "vocab.txt"]
    lineage = store.lineage(key)
    assert lineage["note"] == "x"
    assert (lineage["key"], lineage["stage"], lineage["digest"]) == (key, "tokenize", ref.digest)
    assert (lineage["files"], lineage["bytes"], lineage["pid"]) == (2, 6, os.getpid())
    assert list(store.tmp.iterdir()) == []

    again, reused = store.get_or_build(key, stage="tokenize", build=build, lineage={})
    assert (again, reused, build.calls) == (ref, True, 1)
    assert store.get(key) == ref == store.ref(key)
    assert ArtifactRef.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref
    assert pickle.loads(pickle.dumps(ref)) == ref
    assert store.list() == [
        {
            "key": key,
            "problems": [],
            "stage": "tokenize",
            "digest": ref.digest,
            "created": lineage["created"],
            "bytes": 6,
            "files": 2,
        }
    ]


def test_partial_writes_left_by_killed_tasks_are_not_published(store, caplog):
    """A map task killed between its write and its rename leaves a partial file; its rerun writes its own. Only the
    renamed files are published."""
    leftover = partial_path(Path("shards/0.bin")).as_posix().replace(str(os.getpid()), "4242")  # another process's
    flac = partial_path(Path("audio/a.flac"), ".flac").as_posix().replace(str(os.getpid()), "17")
    build = write_files(
        {"shards/0.bin": b"done", leftover: b"half", flac: b"ha", ".hidden": b"kept", "notes.tmp-1": b"kept"}
    )
    with caplog.at_level(logging.WARNING):
        ref, _ = store.get_or_build(make_key(**KEY_ARGS), stage="tokenize", build=build, lineage={})
    assert leftover == "shards/.0.bin.tmp-4242" and flac == "audio/.a.flac.tmp-17.flac"
    assert sorted(json.loads((ref.path / "digests.json").read_text())) == [".hidden", "notes.tmp-1", "shards/0.bin"]
    assert not (ref.path / leftover).exists() and store.verify(ref.key) == []
    assert "dropped 2 partial writes" in caplog.text


def test_build_records_go_to_lineage_outside_the_digest(tmp_path):
    """Two builds of one artifact that took different times publish the same digest; their timings are in lineage."""
    refs = []
    for seconds in (1.5, 7.25):

        def build(out: Path, seconds=seconds) -> None:
            (out / "model.bin").write_bytes(b"weights")
            record_build(out, train_seconds=seconds)
            record_build(out, steps_per_second=round(10 / seconds, 3))  # a second call adds to the record
            (out / "tlm").mkdir()
            record_build(out / "tlm", resumed_from_step=int(seconds))
            assert read_build_record(out) == {"train_seconds": seconds, "steps_per_second": round(10 / seconds, 3)}

        store = ArtifactStore(tmp_path / f"store-{seconds}")
        ref, _ = store.get_or_build(make_key(**KEY_ARGS), stage="tokenize", build=build, lineage={})
        assert sorted(json.loads((ref.path / "digests.json").read_text())) == ["model.bin"]
        assert store.verify(ref.key) == [] and not list(ref.path.rglob("build.json"))
        assert read_build_record(ref.path) == {"train_seconds": seconds, "steps_per_second": round(10 / seconds, 3)}
        assert read_build_record(ref.path, "tlm") == {"resumed_from_step": int(seconds)}
        assert read_build_record(ref.path, "mlm") == {}
        refs.append(ref)
    assert refs[0].digest == refs[1].digest


def test_flipped_byte_is_quarantined_and_rebuilt(store, caplog):
    key = make_key(**KEY_ARGS)
    build = write_files({"data.bin": b"hello world"})
    ref, _ = store.get_or_build(key, stage="tokenize", build=build, lineage={})
    (ref.path / "data.bin").write_bytes(b"hellO world")

    problems = store.verify(key)
    assert len(problems) == 1 and problems[0].startswith("data.bin: content changed")
    assert ref.path.is_dir()  # verify moves nothing

    with caplog.at_level(logging.WARNING, logger="seqmask.store"):
        assert store.get(key) is None
    assert key in caplog.text and "data.bin" in caplog.text
    assert not ref.path.exists()
    [quarantined] = list(store.corrupt.iterdir())
    assert quarantined.name.startswith(key + ".")
    assert "data.bin: content changed" in (quarantined / "problems.txt").read_text()

    rebuilt, reused = store.get_or_build(key, stage="tokenize", build=build, lineage={})
    assert (reused, build.calls, rebuilt.digest) == (False, 2, ref.digest)
    assert store.verify(key) == []


def test_stray_and_deleted_files_and_bad_metadata_are_detected(store):
    key = make_key(**KEY_ARGS)
    ref, _ = store.get_or_build(
        key, stage="tokenize", build=write_files({"a.txt": b"a", "sub/b.txt": b"b"}), lineage={}
    )
    (ref.path / "sub/stray.txt").write_text("stray")
    (ref.path / "a.txt").unlink()
    assert store.verify(key) == [
        "a.txt: missing (listed in digests.json)",
        "sub/stray.txt: unexpected file (not in digests.json)",
    ]
    (ref.path / "lineage.json").write_text("[]")
    assert "lineage.json: expected a JSON object, found list" in store.verify(key)
    assert store.verify_all() == {key: store.verify(key)}


def test_failing_build_leaves_nothing_behind(store):
    key = make_key(**KEY_ARGS)
    error = RuntimeError("boom")

    def build(out: Path) -> None:
        (out / "partial.bin").write_bytes(b"half")
        raise error

    with pytest.raises(RuntimeError) as raised:
        store.get_or_build(key, stage="tokenize", build=build, lineage={})
    assert raised.value is error
    assert not (store.objects / key).exists()
    assert list(store.tmp.iterdir()) == []
    with pytest.raises(ArtifactNotFound):
        store.verify(key)


KILLED_BUILDER = """
import sys, time
from seqmask.store import ArtifactStore

def build(out):
    (out / "part.bin").write_bytes(b"x")
    time.sleep(60)

ArtifactStore(sys.argv[1]).get_or_build(sys.argv[2], stage="s", build=build, lineage={})
"""


def test_kill_9_during_build_publishes_nothing_and_releases_lock(store):
    key = make_key(**KEY_ARGS)
    proc = run_python(KILLED_BUILDER, str(store.root), key)
    try:
        wait_for(lambda: any((d / "part.bin").exists() for d in store.tmp.iterdir()))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    [orphan] = list(store.tmp.iterdir())
    assert orphan.name.startswith(f"{key}.{proc.pid}.")
    assert not (store.objects / key).exists()

    ref, reused = store.get_or_build(key, stage="s", build=write_files({"ok": b"1"}), lineage={})
    assert reused is False and (ref.path / "ok").read_bytes() == b"1"
    assert store.gc(keep=[key]) == [f"tmp/{orphan.name}"]
    assert list(store.tmp.iterdir()) == []
    assert store.verify(key) == []


RACING_BUILDER = """
import json, sys, time
from pathlib import Path
from seqmask.store import ArtifactStore

root, key, shared = sys.argv[1], sys.argv[2], Path(sys.argv[3])

def build(out):
    time.sleep(1)
    with open(shared / "builds.log", "a") as log:
        log.write("built\\n")
    (out / "result.txt").write_text("same")

(shared / f"ready.{sys.argv[4]}").touch()
while not (shared / "go").exists():
    time.sleep(0.01)
ref, reused = ArtifactStore(root).get_or_build(key, stage="s", build=build, lineage={})
print(json.dumps({"digest": ref.digest, "reused": reused}))
"""


def test_concurrent_builders_of_one_key_build_once(store, tmp_path):
    key = make_key(**KEY_ARGS)
    args = (str(store.root), key, str(tmp_path))
    procs = [run_python(RACING_BUILDER, *args, str(i), stdout=subprocess.PIPE) for i in range(2)]
    wait_for(lambda: all((tmp_path / f"ready.{i}").exists() for i in range(2)))
    (tmp_path / "go").touch()
    results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]

    assert (tmp_path / "builds.log").read_text() == "built\n"
    assert results[0]["digest"] == results[1]["digest"] == store.ref(key).digest
    assert sorted(r["reused"] for r in results) == [False, True]


def test_gc_keeps_transitive_inputs_and_removes_the_rest(store):
    def publish(name: str, inputs: dict[str, str]) -> str:
        key = make_key(stage=name, version=1, config={}, code_hash="h", inputs=inputs, packages={})
        refs = {n: {"key": k, "digest": store.ref(k).digest} for n, k in inputs.items()}
        build = write_files({name: name.encode()})
        store.get_or_build(key, stage=name, build=build, lineage={"inputs": refs})
        return key

    raw = publish("raw", {})
    tok = publish("tok", {"raw": raw})
    model = publish("model", {"tok": tok})
    unrelated = publish("other", {})
    (store.corrupt / f"{unrelated}.123").mkdir()
    (store.tmp / f"{unrelated}.999.1").mkdir()
    expected = [f"objects/{unrelated}", f"corrupt/{unrelated}.123", f"tmp/{unrelated}.999.1"]

    assert store.gc(keep=[model], dry_run=True) == expected
    assert {row["key"] for row in store.list()} == {raw, tok, model, unrelated}
    assert (store.corrupt / f"{unrelated}.123").exists()

    assert store.gc(keep=[model]) == expected
    assert {row["key"] for row in store.list()} == {raw, tok, model}
    assert list(store.corrupt.iterdir()) == list(store.tmp.iterdir()) == []
    assert store.gc(keep=[model]) == []


def test_gc_spares_temp_dirs_of_running_builds(store):
    key = make_key(**KEY_ARGS)
    (store.tmp / f"{key}.1.1").mkdir()
    with store.lock(key):
        assert store.gc(keep=[]) == []
    assert store.gc(keep=[]) == [f"tmp/{key}.1.1"]


def test_resolve_prefixes(store):
    for key in ("aaaa1111", "aaaa2222", "bbbb3333"):
        store.get_or_build(key, stage="s", build=write_files({"f": key.encode()}), lineage={})
    assert store.resolve("b") == "bbbb3333"
    assert store.resolve("aaaa2") == "aaaa2222"
    with pytest.raises(ArtifactNotFound, match="no published artifact key starts with 'c'"):
        store.resolve("c")
    with pytest.raises(ValueError, match="ambiguous") as raised:
        store.resolve("aaaa")
    assert "aaaa1111" in str(raised.value) and "aaaa2222" in str(raised.value)
    for traversal in ("../bbbb3333", "/etc/passwd", "bbbb/../aaaa2222"):
        with pytest.raises(
            ValueError, match=r"invalid key prefix .*: expected the first characters of an artifact key"
        ):
            store.resolve(traversal)
    with pytest.raises(ValueError, match=r"invalid artifact key '\.\./x'"):
        store.scratch_dir("../x")


def test_build_output_must_be_plain_files_with_unreserved_names(store, tmp_path):
    def links_out(out: Path) -> None:
        (out / "link").symlink_to(tmp_path)

    def writes_lineage(out: Path) -> None:
        (out / "lineage.json").write_text("{}")

    for build, found in ((links_out, "non-regular ['link']"), (writes_lineage, "'lineage.json'")):
        with pytest.raises(ValueError, match=re.escape(found)):
            store.get_or_build("k", stage="s", build=build, lineage={})
        assert list(store.objects.iterdir()) == list(store.tmp.iterdir()) == []


def test_force_rebuilds_a_published_artifact(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    builds = []

    def build(out):
        builds.append(1)
        (out / "a.txt").write_text(f"build {len(builds)}")

    first, _ = store.get_or_build("k1", stage="s", build=build, lineage={})
    second, reused = store.get_or_build("k1", stage="s", build=build, lineage={}, force=True)
    assert not reused and len(builds) == 2
    assert (second.path / "a.txt").read_text() == "build 2"
    assert first.digest != second.digest
    assert store.verify("k1") == []
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "lineage", ["{not json", "[1, 2]", '{"stage": 3, "bytes": "many", "inputs": {}}', '{"inputs": "raw"}']
)
def test_corrupt_lineage_is_listed_and_collected_not_fatal(store, lineage):
    """`ls` lists it with its problems, `gc` (dry or not) goes on and removes it; nothing raises."""
    good = make_key(**KEY_ARGS)
    store.get_or_build(good, stage="tokenize", build=write_files({"a": b"a"}), lineage={"inputs": {}})
    bad = make_key(**{**KEY_ARGS, "version": 2})
    store.get_or_build(bad, stage="tokenize", build=write_files({"b": b"b"}), lineage={"inputs": {}})
    (store.objects / bad / "lineage.json").write_text(lineage)

    rows = {row["key"]: row for row in store.list()}
    assert rows[good]["problems"] == [] and rows[good]["stage"] == "tokenize"
    assert rows[bad]["problems"] and all("lineage.json" in problem for problem in rows[bad]["problems"])
    assert store.gc(keep=[good, bad], dry_run=True) == [f"objects/{bad}"]
    assert store.gc(keep=[good, bad]) == [f"objects/{bad}"]
    assert [row["key"] for row in store.list()] == [good]
