"""Many users at once, file access, launch options and pickles: the app as a shared web service.

Only `app` and `gradio_client` are used (the app's helper module is being moved; these tests don't
care where it lives). The app's temp folders are found on disk: every session owns one folder
`<tempdir>/tgan-app-*/session-*`, and the uploaded file names carry a per-test token.
"""
from __future__ import annotations

import ast
import concurrent.futures as cf
import json
import pickle
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from conftest import api_client, mistake, names_step as _names_step
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

import app
from webapp import explore, plumbing, setup_tabs

ROOT = Path(__file__).resolve().parents[1]
N_SESSIONS = 4
COLOURS = [(220, 40, 40), (40, 180, 60), (40, 70, 220), (230, 200, 30)]


@pytest.fixture
def app_url(app_checkpoints, monkeypatch):
    monkeypatch.setenv("TGAN_CHECKPOINTS", str(app_checkpoints))
    # A closed gradio_client notices within one heartbeat; the server then runs the unload event.
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "1")
    demo = app.build_demo()
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
    try:
        yield url, demo
    finally:
        demo.close()


def _train_defaults(c: Client) -> list:
    """The inputs of /train after seed (the x-flip choice and the strategy options), at their UI defaults."""
    params = c.view_api(print_info=False, return_format="dict")["named_endpoints"]["/train"]["parameters"]
    return [p["parameter_default"] for p in params[6:]]


def _image_set(folder: Path, token: str, n: int, colour) -> list[Path]:
    """n distinct small PNGs in one colour family, named <token>_<i>.png."""
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        img = Image.new("RGB", (40, 40), "white")
        draw = ImageDraw.Draw(img)
        shade = tuple(max(0, min(255, c + 9 * i - 20)) for c in colour)
        draw.ellipse([2 + 3 * i, 4 + 2 * i, 24 + 2 * i, 30 + i], fill=shade)
        draw.rectangle([26 - i, 2 + i, 38, 14 + 2 * i], fill=tuple(c // 2 for c in colour))
        paths.append(folder / f"{token}_{i}.png")
        img.save(paths[-1])
    return paths


def _session_dirs(token: str) -> dict[Path, set[str]]:
    """Every app session folder holding files with this test's token -> the tokens found in it."""
    found: dict[Path, set[str]] = {}
    for root in Path(tempfile.gettempdir()).glob("tgan-app-*"):
        for sess in root.glob("session-*"):
            try:
                names = [p.name for p in sess.rglob(f"{token}*")]
            except OSError:  # removed while we looked
                continue
            if names:
                found[sess] = {n.rsplit("_", 1)[0] for n in names}
    return found


class _PeakRss:
    """Resident memory of this process in MB: now (VmRSS), and the peak since reset() (VmHWM, which
    writing 5 to /proc/self/clear_refs resets). Without the reset the peak would be the whole test
    run's so far: every earlier test's models and features, nothing to do with the sessions here."""

    @staticmethod
    def _status_mb(field: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
        raise OSError(f"no {field} in /proc/self/status")

    @staticmethod
    def reset() -> None:
        Path("/proc/self/clear_refs").write_text("5")

    @classmethod
    def now_mb(cls) -> float:
        return cls._status_mb("VmRSS")

    @classmethod
    def peak_mb(cls) -> float:
        return cls._status_mb("VmHWM")


# ----------------------------------------------------------------------------- 1. four sessions at once

def test_four_sessions_at_once_are_isolated_and_cleaned_up(app_url, tmp_path):
    url, demo = app_url
    token = f"mu{uuid.uuid4().hex[:8]}"
    # Each session differs in image count, steps, batch and seed, so any cross-talk shows up.
    plans = [dict(tag=f"{token}s{i}", n=5 + i, steps=2 + i % 3, batch=2 + i % 2, seed=11 + i,
                  colour=COLOURS[i]) for i in range(N_SESSIONS)]
    for p in plans:
        p["files"] = _image_set(tmp_path / p["tag"], p["tag"], p["n"], p["colour"])

    rss_before = _PeakRss.now_mb()
    _PeakRss.reset()
    clients: list[Client] = [api_client(url) for _ in plans]
    defaults = _train_defaults(clients[0])
    # The timeouts only guard against a hang: on a loaded machine four uploads can take minutes.
    uploaded = threading.Barrier(N_SESSIONS, timeout=600)
    held = {}

    def one_user(c: Client, p: dict) -> dict:
        _, summary = c.predict([handle_file(str(f)) for f in p["files"]], "tiny", api_name="/upload")
        assert f"**{p['n']} images ready**" in summary, summary
        if uploaded.wait() == 0:  # all four sessions exist now
            held["sessions"] = len(_session_dirs(token))
        t0 = time.monotonic()
        job = c.submit("tiny", ["transfer_d"], p["steps"], 2e-4, p["batch"], p["seed"], *defaults,
                       api_name="/train")
        job.result(timeout=600)
        outputs = job.outputs()
        t1 = time.monotonic()
        _, _, _, _, status, download, _, _ = outputs[-1]
        seeds, label = c.predict("tiny", 0, 1.0, api_name="/seeds")
        interp = c.predict("tiny", "3, 17", 0.5, 1.0, api_name="/interpolate")
        return dict(first_status=outputs[0][4], status=status, download=download, seeds=seeds, label=label,
                    interp=interp, train_span=(t0, t1))

    start = time.monotonic()
    with cf.ThreadPoolExecutor(N_SESSIONS) as pool:
        results = list(pool.map(one_user, clients, plans))
    elapsed = time.monotonic() - start
    peak_mb = _PeakRss.peak_mb()

    for p, r in zip(plans, results):
        assert r["first_status"].startswith(f"Starting: {p['n']} images"), r["first_status"]
        assert r["status"].startswith(f"**Done**: {p['steps']} steps"), r["status"]
        with zipfile.ZipFile(r["download"]) as zf:
            config = json.loads(zf.read("config.json"))
        assert config["step"] == p["steps"]
        assert (config["train"]["seed"], config["train"]["batch_size"]) == (p["seed"], p["batch"])
        assert _names_step(r["label"], p["steps"]), r["label"]
        assert len(r["seeds"]) == 16 and Image.open(r["interp"]).size == (64, 64)

    # Every session folder holds only its own user's uploads.
    dirs = _session_dirs(token)
    assert sorted(tuple(t) for t in dirs.values()) == sorted((p["tag"],) for p in plans), dirs
    assert held["sessions"] == N_SESSIONS

    spans = [r["train_span"] for r in results]
    overlap = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    report = dict(sessions=N_SESSIONS, sessions_held_at_once=held["sessions"], train_requests_in_flight=overlap,
                  peak_rss_mb=round(peak_mb, 1), rss_before_mb=round(rss_before, 1), seconds=round(elapsed, 1))
    print(f"\n[many users] {json.dumps(report)}")
    assert peak_mb - rss_before < 1024, report  # four small sessions at once: well under a GiB more

    # Closing the clients ends their heartbeats; the app's unload hook then deletes their folders.
    for c in clients:
        c.close()
    closed = time.monotonic()
    while _session_dirs(token) and time.monotonic() < closed + 20:
        time.sleep(0.2)
    report["cleanup_seconds"] = round(time.monotonic() - closed, 1)
    (tmp_path / "many_users.json").write_text(json.dumps(report, indent=2))
    print(f"[many users] waited {report['cleanup_seconds']} s for the session folders after closing the clients")
    assert not _session_dirs(token), "session folders left behind after the clients closed"


# ----------------------------------------------------------------------------- 2. file access

def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read(200_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(200_000)


def test_file_route_serves_nothing_outside_its_folders(app_url, tmp_path):
    url, _ = app_url
    assert url.startswith("http://127.0.0.1:") or url.startswith("http://localhost:"), url
    base = url.rstrip("/")
    secret = tmp_path / "secret.txt"  # a file in a temp folder the app never handed out
    secret.write_text("root:x:0:0:not for the web\n")
    targets = ["/etc/passwd", "..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "../../../../../../etc/passwd",
               "%2Fetc%2Fpasswd", str(secret), str(ROOT / "app.py")]
    for prefix in ("/gradio_api/file=", "/file="):
        for target in targets:
            status, body = _get(base + prefix + target)
            print(f"[file route] {prefix}{target} -> {status}")
            assert status != 200 or (b"root:" not in body and b"build_demo" not in body), (prefix, target, status)
    assert _get(base + "/gradio_api/file=/proc/self/environ")[0] != 200


# ----------------------------------------------------------------------------- 3. launch options

def test_launch_options_are_local_and_bounded(monkeypatch):
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    opts = app.launch_options()
    assert opts["server_name"] == "127.0.0.1"
    assert not opts.get("share", False)
    assert opts.get("max_file_size"), opts
    assert not opts.get("allowed_paths")  # nothing beyond gradio's own folders is served
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # a Space / container opts in explicitly
    assert app.launch_options()["server_name"] == "0.0.0.0"


# ----------------------------------------------------------------------------- 4. pickles

class _Payload:
    """Unpickling this creates the marker file (harmless proof that code ran)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _unsafe_calls(source: str, label: str) -> list[str]:
    """Calls that can run code from data: pickle/dill/joblib/marshal loads, torch.load without
    weights_only=True, numpy loads with allow_pickle=True, and eval/exec."""
    bad = []
    for node in ast.walk(ast.parse(source, label)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
        kw = {k.arg: k.value for k in node.keywords}
        where = f"{label}:{node.lineno}"
        if isinstance(f, ast.Name) and name in ("eval", "exec"):
            bad.append(f"{where} {name}()")
        elif owner in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "cloudpickle") and \
                name in ("load", "loads", "open", "Unpickler"):
            bad.append(f"{where} {owner}.{name}()")
        elif name == "Unpickler":
            bad.append(f"{where} Unpickler")
        elif owner == "torch" and name == "load":
            wo = kw.get("weights_only")
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                bad.append(f"{where} torch.load without weights_only=True")
        elif owner in ("np", "numpy") and name == "load":
            ap = kw.get("allow_pickle")
            if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
                bad.append(f"{where} np.load(allow_pickle=...)")
    return bad


def test_no_code_runs_from_user_data():
    # the scanner itself: harmless calls pass, the dangerous ones are caught
    assert _unsafe_calls("model.eval()\ntorch.load(p, map_location='cpu', weights_only=True)\n", "ok") == []
    assert len(_unsafe_calls("eval(s)\nexec(s)\npickle.loads(b)\ntorch.load(p)\n"
                             "torch.load(p, weights_only=False)\nnp.load(p, allow_pickle=True)\n", "bad")) == 6
    files = [ROOT / "app.py", *sorted((ROOT / "webapp").rglob("*.py")), *sorted((ROOT / "tgan").rglob("*.py"))]
    assert len(files) > 5
    bad = [hit for f in files for hit in _unsafe_calls(f.read_text(), str(f.relative_to(ROOT)))]
    assert not bad, bad


def test_a_pickle_posing_as_a_model_is_never_unpickled(app_checkpoints, tmp_path, monkeypatch):
    """The app has no model upload; source models come from TGAN_CHECKPOINTS. A pickle named
    model.safetensors there, or sent as an 'image', is refused without being unpickled."""
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_Payload(marker))
    root = tmp_path / "checkpoints"
    evil = root / f"evil{uuid.uuid4().hex[:6]}"
    evil.mkdir(parents=True)
    shutil.copy(app_checkpoints / "tiny" / "config.json", evil / "config.json")
    (evil / "model.safetensors").write_bytes(payload)
    (root / "pt-only").mkdir()
    shutil.copy(app_checkpoints / "tiny" / "config.json", root / "pt-only" / "config.json")
    (root / "pt-only" / "model.pt").write_bytes(payload)
    monkeypatch.setenv("TGAN_CHECKPOINTS", str(root))

    with mistake("pickle|safetensors"):
        setup_tabs.source_info(evil.name)
    with mistake("safetensors|no source model"):  # a .pt folder is not even listed
        setup_tabs.source_info("pt-only")
    sess = plumbing.new_session()
    try:
        with mistake("Python pickle|never|safetensors"):
            explore.show_seeds(sess, evil.name, 0, 1.0)
        # the same bytes uploaded as images: listed as unusable, never unpickled
        files = []
        for name in ("model.pkl", "weights.pt", "photo.png"):
            (tmp_path / name).write_bytes(payload)
            files.append(str(tmp_path / name))
        with mistake(""):
            setup_tabs.upload_images(files, sess, "")
    finally:
        sess.close()
    assert not marker.exists(), "a pickle was unpickled"
