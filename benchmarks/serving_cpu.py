"""CPU the app spends serving one browser that watches a fine-tune, outside the training itself.

    TGAN_TRAIN_THREADS=1 python benchmarks/serving_cpu.py [--seconds 60] [--source faces]

Serves the real app in this process, opens the page in headless Chromium, picks the lorelei
example set, presses Start, watches for --seconds, presses Stop. With one training thread, the
run's steps happen in the thread that drives the chunks; every other thread of this process
(the event loop, the queue, the other handler threads, uvicorn) is serving. Prints both CPU
totals from /proc/self/task. Linux only; needs playwright and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TGAN_TRAIN_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, tuple[str, float]]:
    """tid -> (name, CPU seconds) for every thread of this process (Python's thread name where
    Python knows the thread, else the OS name)."""
    py_names = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        tid = int(task.name)
        out[tid] = (py_names.get(tid, name), (int(fields[11]) + int(fields[12])) / TICK)  # utime + stime
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    a = p.parse_args()
    from playwright.sync_api import expect, sync_playwright

    app.plumbing.leave_cores_to_training()  # as app.py does before anything runs
    demo = app.build_demo()
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.get_by_role("button", name="Faces, lorelei line art").click()
            expect(page.locator("#images_gallery img").first).to_be_visible(timeout=60_000)
            page.get_by_role("tab", name="2 · Source and strategy").click()
            page.locator("#advanced").get_by_text("Advanced").click()
            steps = page.locator("#steps input[type=number]")
            steps.fill("5000")  # more than fit in the watched time, so Stop ends the run
            steps.press("Enter")
            page.wait_for_timeout(500)
            page.get_by_role("tab", name="3 · Fine-tune").click()
            before = thread_cpu()
            t0 = time.monotonic()
            page.locator("#start").click()
            page.wait_for_timeout(a.seconds * 1000)
            page.locator("#stop").click()
            expect(page.locator("#status")).to_contain_text("Stopped", timeout=120_000)
            wall = time.monotonic() - t0
            after = thread_cpu()
            status = page.locator("#status").inner_text()
            browser.close()
    finally:
        demo.close()
    used = {tid: (name, cpu - before.get(tid, (name, 0.0))[1]) for tid, (name, cpu) in after.items()}
    trainer = max(used, key=lambda tid: used[tid][1])
    serving = {tid: v for tid, v in used.items() if tid != trainer}
    top = sorted(serving.values(), key=lambda v: -v[1])[:5]
    print(f"watched a run for {wall:.0f} s ({status.splitlines()[0][:70]})")
    print(f"training thread: {used[trainer][1]:.1f} CPU s")
    print(f"serving threads: {sum(v for _, v in serving.values()):.2f} CPU s over {len(serving)} threads "
          f"({100 * sum(v for _, v in serving.values()) / wall:.1f}% of one core)")
    print("busiest serving threads: " + ", ".join(f"{n} {c:.2f} s" for n, c in top))


if __name__ == "__main__":
    main()
