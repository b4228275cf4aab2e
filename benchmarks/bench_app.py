"""Latency of the app as a user feels it, measured through gradio_client against a live server.

    python benchmarks/bench_app.py [--source emoji] [--calls 30] [--steps 50]

Prints p50/p95 of the interpolation slider and truncation (ψ) handlers (goal: p95 <= 150 ms on
CPU), the time from pressing Start to the first fine-tuned sample grid (goal: <= 5 s), and the
wall-clock of that whole run (`--steps 1100`: the app's default fine-tune).
Three views of latency: the handler alone (a plain call), the gradio_client round trip (which
polls for messages every 50 ms, so it has a floor of its own), and, when Playwright and
/usr/bin/chromium are there, the real page: slider moved -> new image loaded in the browser.
Uses the bundled checkpoints (or TGAN_CHECKPOINTS) and the bundled example images. A script,
not a test: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

import app  # noqa: E402
import appkit as sup  # noqa: E402
from tgan import DEFAULT_PRESET, PRESETS, TrainConfig, describe_device, pick_device  # noqa: E402
from tgan.strategies import preset_lr  # noqa: E402
from webapp import explore, plumbing  # noqa: E402

EXAMPLE_FOR = {"emoji": "emoji_3d_animals", "faces": "faces_lorelei", "kanji": "kanji_gyosho"}


def percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20, method="inclusive")
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {q[18]:6.1f} ms   max {max(ms):6.1f} ms   (n={len(ms)})"


def timed(fn, values) -> list[float]:
    fn(values[0])  # warm-up: first call loads the model and its truncation centre / PCA
    out = []
    for v in values:
        t0 = time.perf_counter()
        fn(v)
        out.append(1e3 * (time.perf_counter() - t0))
    return out


SLIDE_JS = """async ([selector, value, watch]) => {
  const range = document.querySelector(selector + ' input[type=range]');
  const img = () => document.querySelector(watch + ' img');
  const before = img() && img().src;
  const t0 = performance.now();
  range.value = value;
  range.dispatchEvent(new Event('input', {bubbles: true}));
  range.dispatchEvent(new Event('change', {bubbles: true}));
  for (;;) {
    const i = img();
    if (i && i.src !== before && i.complete && i.naturalWidth > 0) return performance.now() - t0;
    if (performance.now() - t0 > 10000) return NaN;
    await new Promise(r => setTimeout(r, 1));
  }
}"""


def browser_latency(url: str, calls: int) -> dict[str, list[float]] | None:
    """Slider -> new image in headless Chromium, the latency a person feels."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").is_file():
        return None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("button").first.wait_for()
        page.get_by_role("tab", name="4 · Explore").click()
        page.locator("#interp_img img").wait_for()
        for name, slider, watch, warm_up, values in [
                ("interpolation t", "#interp_t", "#interp_img", 1.0, [(i + 1) / (calls + 1) for i in range(calls)]),
                ("truncation ψ", "#psi", "#cmp_source", 0.9, [round(0.3 + 0.05 * (i % 15), 2) for i in range(calls)])]:
            # warm-up, to a value other than the slider's default (else no new image comes); every
            # value below differs from the last
            page.evaluate(SLIDE_JS, [slider, warm_up, watch])
            out[name] = []
            for v in values:
                page.wait_for_timeout(300)  # let the previous move's other events (the gallery) finish
                out[name].append(page.evaluate(SLIDE_JS, [slider, v, watch]))
        browser.close()
    return out


def main() -> None:
    names = sup.source_names()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=names[0] if names else None)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--steps", type=int, default=50,
                        help="steps of the timed fine-tuning run (the default preset, on the source's example set)")
    args = parser.parse_args()
    if not args.source:
        sys.exit(f"no source models under {sup.checkpoints_root()}")

    plumbing.leave_cores_to_training()  # as app.py does before anything runs
    demo = app.build_demo()
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
    try:
        c = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        print(f"source {args.source!r}; training on {plumbing.training_device()}, exploring on "
              f"{describe_device(pick_device())}; {args.calls} calls each\n")

        sess = plumbing.new_session()
        ts = [i / (args.calls - 1) for i in range(args.calls)]
        psis = [0.4 + 0.6 * i / (args.calls - 1) for i in range(args.calls)]
        print("handler alone (plain call, no server)")
        direct = timed(lambda t: explore.interpolate(sess, args.source, "3, 17, 42", t, 0.8), ts)
        print(f"  interpolate           {percentiles(direct)}")
        direct = timed(lambda psi: explore.compare(sess, args.source, 7, psi), psis)
        print(f"  compare (ψ)           {percentiles(direct)}")
        direct = timed(lambda psi: explore.show_seeds(sess, args.source, 0, psi), psis)
        print(f"  show_seeds (ψ)        {percentiles(direct)}")
        sess.close()

        page = browser_latency(url, args.calls)
        if page is None:
            print("\nreal page: skipped (needs playwright and /usr/bin/chromium)")
        else:
            print("\nreal page in Chromium: slider moved -> new image loaded")
            for name, ms in page.items():
                print(f"  {name:20s}  {percentiles(ms)}")

        floor = timed(lambda _: c.predict("FreezeD", api_name="/preset"), ts)
        print(f"\ngradio_client round trip (its 50 ms message polling included)\n"
              f"  trivial handler       {percentiles(floor)}")
        interp = timed(lambda t: c.predict(args.source, "3, 17, 42", t, 0.8, api_name="/interpolate"), ts)
        print(f"  /interpolate (t)      {percentiles(interp)}")
        single = timed(lambda psi: c.predict(args.source, 7, psi, api_name="/compare"), psis)
        print(f"  /compare (ψ)          {percentiles(single)}")
        pca = timed(lambda psi: c.predict(args.source, 7, psi, False, 1.5, -1, 0, 0, 0, api_name="/pca"), psis)
        print(f"  /pca (ψ + 2 dirs)     {percentiles(pca)}")
        singles = timed(lambda psi: c.predict(args.source, psi, 7, False, "3, 17, 42", 0.5, 1.5, -1, 0, 0, 0,
                                              api_name="/truncation"), psis)
        print(f"  /truncation (ψ, 4 images) {percentiles(singles)}")
        gallery = timed(lambda psi: c.predict(args.source, 0, psi, api_name="/seeds"), psis)
        print(f"  /seeds (ψ, 16 images) {percentiles(gallery)}")

        example = EXAMPLE_FOR.get(args.source, "emoji_3d_animals")
        c.predict(args.source, api_name=f"/example_{example}")
        options = sup.preset_option_values(DEFAULT_PRESET)
        t0 = time.perf_counter()
        job = c.submit(args.source, list(PRESETS[DEFAULT_PRESET][0]), args.steps,
                       preset_lr(DEFAULT_PRESET, TrainConfig.lr_g), TrainConfig.batch_size, 0,
                       sup.DEFAULT_FLIP, *options, api_name="/train")
        first = None
        while not job.done():
            if first is None and any(o[1] for o in job.outputs()):
                first = time.perf_counter() - t0
            time.sleep(0.02)
        total = time.perf_counter() - t0
        first = first if first is not None else total
        status = job.outputs()[-1][4] if job.outputs() else "?"
        print(f"\nStart -> first sample grid   {first:5.2f} s   (goal <= 5 s)")
        print(f"whole run of {args.steps} steps      {total:5.2f} s   ({status.splitlines()[0][:80]})")
    finally:
        demo.close()


if __name__ == "__main__":
    main()
