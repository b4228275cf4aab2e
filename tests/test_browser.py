"""The real page in headless Chromium: upload, train a few steps, explore; screenshots for the README.

Uses the tiny test sources by default. For README screenshots with real models run
  TGAN_SCREENSHOT_SOURCES=checkpoints TGAN_SCREENSHOT_EXAMPLE=faces TGAN_SCREENSHOT_STEPS=900 \
      python -m pytest tests/test_browser.py
which walks through the same steps on the example set of that source (default: the first real
source's), with the advisor picking the source as it does for any upload.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from conftest import launched_app

from appkit import EXAMPLE_SETS
from tgan.paths import EXAMPLES


CHROMIUM = "/usr/bin/chromium"
REAL = os.environ.get("TGAN_SCREENSHOT_SOURCES")
STEPS = os.environ.get("TGAN_SCREENSHOT_STEPS", "3")
# The README's screenshots are rewritten only by the run with real sources (see the docstring);
# a plain test run keeps its screenshots in a temporary folder.
SHOTS = (Path(__file__).resolve().parent.parent / "docs" / "screenshots" if REAL
         else Path(tempfile.gettempdir()) / "tgan-test-screenshots")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")
# expect() has its own 5 s default; a busy 2-core machine (or a real 64 px source, whose PCA
# directions take seconds to compute) needs longer.
sync_api.expect.set_options(timeout=60_000)


@pytest.fixture(scope="module")
def app_page_url(app_checkpoints):
    with launched_app(REAL or app_checkpoints) as url:
        yield url


EXAMPLE_FOR = {"emoji": "emoji-3d-animals", "faces": "faces-lorelei", "kanji": "kanji-gyosho"}  # under examples/


def shot(page, name: str) -> None:
    """Full-page screenshot without the transient toasts, once every image has loaded."""
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete)")
    page.evaluate("() => document.querySelectorAll('.toast-wrap, .toast-body').forEach(t => t.remove())")
    page.screenshot(path=str(SHOTS / name), full_page=True)


def expect_image_shown(page, elem_id: str) -> None:
    """The image in #elem_id is shown. Scrolled to first: Chromium loads a lazy image only within
    1,250 to 2,500 px of the view (by its guess of the network speed), and until then it has no size,
    which Playwright counts as hidden (the interpolation image sits at y = 1,870 of a 900 px view)."""
    page.locator(f"#{elem_id}").scroll_into_view_if_needed()
    sync_api.expect(page.locator(f"#{elem_id} img")).to_be_visible()


def set_number(page, elem_id: str, value: str) -> None:
    """Type into a slider's number box; retried because a freshly opened accordion may re-mount
    its children once and drop the first edit."""
    box = page.locator(f"#{elem_id} input[type=number]")
    for _ in range(10):
        box.fill(value)
        box.press("Enter")
        page.wait_for_timeout(300)
        if box.input_value() == value:
            return
    raise AssertionError(f"#{elem_id} did not keep the value {value}")


def img_src(page, elem_id: str) -> str | None:
    loc = page.locator(f"#{elem_id} img")
    return loc.first.get_attribute("src") if loc.count() else None


def test_walkthrough(app_page_url, app_image_files):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(app_page_url)
        page.locator("button").first.wait_for()  # an upload before the app is live is lost

        # 1. images: good files plus a duplicate, a text file and a broken PNG
        page.locator("#upload input[type=file]").set_input_files([str(f) for f in app_image_files["all"]])
        summary = page.locator("#upload_summary")
        sync_api.expect(summary).to_contain_text("8 images ready")
        sync_api.expect(summary).to_contain_text("notes.txt")
        sync_api.expect(page.locator("#images_gallery img")).to_have_count(8)
        # the dataset doctor's table names each problem file and what is done about it
        doctor = page.locator("#doctor")
        sync_api.expect(doctor).to_contain_text("copy.png")
        sync_api.expect(doctor).to_contain_text("duplicate")
        sync_api.expect(doctor).to_contain_text("broken.png")
        # the gallery's heading sits above it, not as a chip over the first thumbnails
        heading = page.locator("#images_gallery_label").bounding_box()
        assert heading["y"] + heading["height"] <= page.locator("#images_gallery img").first.bounding_box()["y"]
        example = None
        if REAL:  # nicer pictures: the example set of a real source (and one of its images to put in)
            first = sorted(p.name for p in Path(REAL).iterdir() if (p / "config.json").is_file())[0]
            example = EXAMPLE_FOR.get(os.environ.get("TGAN_SCREENSHOT_EXAMPLE", first), "emoji-3d-animals")
            page.get_by_role("button", name=EXAMPLE_SETS[example]).click()
            sync_api.expect(summary).to_contain_text("16 images ready")
            sync_api.expect(page.get_by_text(app_image_files["all"][0].name)).to_have_count(0)
        shot(page, "01-images.png")

        # 2. source and strategy: a tiny run (3 steps, batch 4), or for the README STEPS at the default batch
        page.get_by_role("tab", name="2 · Source and strategy").click()
        sync_api.expect(page.locator("#advice")).to_contain_text("Advice")  # the advisor's panel
        # the advice for the latest images has arrived (no output still shows "processing")
        sync_api.expect(page.get_by_text("processing |")).to_have_count(0, timeout=120_000)
        expect_image_shown(page, "source_preview")
        page.locator("#advanced").get_by_text("Advanced").click()
        set_number(page, "steps", STEPS)
        if not REAL:  # the README's pictures keep the app's default batch
            set_number(page, "batch_size", "4")
        shot(page, "02-source-strategy.png")

        # 3. fine-tune
        page.get_by_role("tab", name="3 · Fine-tune").click()
        page.locator("#start").click()
        sync_api.expect(page.locator("#status")).to_contain_text("Done", timeout=300_000)
        expect_image_shown(page, "samples")
        expect_image_shown(page, "source_samples")
        sync_api.expect(page.locator("#download_run")).to_contain_text(".zip")
        # the live monitor: its verdict line and its plot (both in the training tab's screenshot)
        sync_api.expect(page.locator("#monitor")).to_contain_text("Monitor at step")
        sync_api.expect(page.locator("#monitor_plot")).to_be_visible()
        # the score: both feature spaces, the copy verdict, and (8 images < 20) against the training set
        page.locator("#score").click()
        score = page.locator("#kid")
        sync_api.expect(score).to_contain_text("KID ×10³ (random-cnn)", timeout=300_000)
        sync_api.expect(score).to_contain_text("KID ×10³ (inception)")
        sync_api.expect(score).to_contain_text("copy ratio")
        sync_api.expect(score).to_contain_text("training images")
        shot(page, "03-training.png")

        # 4. explore: moving the interpolation slider redraws the image
        page.get_by_role("tab", name="4 · Explore").click()
        sync_api.expect(page.locator("#explore_model")).to_contain_text("fine-tuned model")
        sync_api.expect(page.locator("#seed_gallery img")).to_have_count(16)
        box = page.locator("#seed_gallery").bounding_box()  # both rows of seeds fit, none clipped
        last = page.locator("#seed_gallery img").last.bounding_box()
        assert last["y"] + last["height"] <= box["y"] + box["height"]
        expect_image_shown(page, "interp_img")
        before = img_src(page, "interp_img")
        set_number(page, "interp_t", "0.5")
        page.wait_for_function(
            "before => { const i = document.querySelector('#interp_img img'); return i && i.src !== before; }",
            arg=before)
        assert img_src(page, "interp_img") != before
        # put an image of one's own in, then walk from it to a seed
        pca_before = img_src(page, "pca_img")
        own = sorted((EXAMPLES / example).glob("*.png"))[-1] if example else app_image_files["good"][3]
        page.locator("#own_image input[type=file]").set_input_files(str(own))
        page.locator("#project").click()
        sync_api.expect(page.locator("#projected_text")).to_contain_text("PSNR", timeout=120_000)
        expect_image_shown(page, "projected_img")
        # the PCA sliders (and the comparison) now start from the projected image
        sync_api.expect(page.locator("#use_mine input")).to_be_checked()
        page.wait_for_function(
            "before => { const i = document.querySelector('#pca_img img'); return i && i.src !== before; }",
            arg=pca_before)
        before = img_src(page, "interp_img")
        page.locator("#interp_seeds textarea, #interp_seeds input").first.fill("p, 17")
        page.locator("#interp_seeds textarea, #interp_seeds input").first.press("Enter")
        page.wait_for_function(
            "before => { const i = document.querySelector('#interp_img img'); return i && i.src !== before; }",
            arg=before)
        sync_api.expect(page.locator(".toast-body")).to_have_count(0)  # "p" was accepted, no warning
        page.locator("#seed_gallery button.thumbnail-item").nth(2).click()  # select seed 2
        sync_api.expect(page.locator("#selected_seed input")).to_have_value("2")
        page.locator("#make_gif").click()
        expect_image_shown(page, "anim_gif")
        shot(page, "04-explore.png")
        browser.close()


def test_stop_button_keeps_the_model(app_page_url, app_image_files):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(app_page_url)
        page.locator("button").first.wait_for()
        # Explore before any run says plainly that it shows the source
        page.get_by_role("tab", name="4 · Explore").click()
        sync_api.expect(page.locator("#explore_model")).to_contain_text("Nothing is fine-tuned yet")
        # Start with no images: a warning toast, and no output turns into a red error badge
        page.get_by_role("tab", name="3 · Fine-tune").click()
        page.locator("#start").click()
        sync_api.expect(page.locator(".toast-body").first).to_contain_text("add some images first")
        page.wait_for_timeout(500)
        assert page.locator(".error").count() == 0 and page.get_by_text("Error", exact=True).count() == 0

        # one image: a thumbnail at grid size, not a picture filling the box
        page.get_by_role("tab", name="1 · Your images").click()
        page.locator("#upload input[type=file]").set_input_files([str(app_image_files["good"][0])])
        sync_api.expect(page.locator("#upload_summary")).to_contain_text("1 image ready")
        assert page.locator("#images_gallery img").first.bounding_box()["width"] <= 160
        page.locator("#upload input[type=file]").set_input_files([str(f) for f in app_image_files["good"]])
        sync_api.expect(page.locator("#upload_summary")).to_contain_text("8 images ready")
        page.get_by_role("tab", name="2 · Source and strategy").click()
        page.locator("#advanced").get_by_text("Advanced").click()
        set_number(page, "steps", "3000")
        set_number(page, "batch_size", "4")
        page.get_by_role("tab", name="3 · Fine-tune").click()
        page.locator("#start").click()
        # a step has run (a Stop at step 0 leaves nothing to download)
        sync_api.expect(page.locator("#status")).to_contain_text(re.compile(r"Training on .*: step [1-9]"))
        page.locator("#stop").click()  # cancels the stream and sets the session's stop flag
        status = page.locator("#status")
        sync_api.expect(status).to_contain_text("Stopped at step")
        sync_api.expect(page.locator("#download_run")).to_contain_text(".zip")
        sync_api.expect(page.locator("#progress")).not_to_contain_text("ETA")  # no stale ETA
        # Stop again when idle: the message stays
        page.locator("#stop").click()
        page.wait_for_timeout(1000)
        sync_api.expect(status).to_contain_text("Stopped at step")
        # Start after Stop offers both: continue from the step reached, or start over
        sync_api.expect(page.locator("#continue")).to_contain_text("Continue from step")
        sync_api.expect(page.locator("#start")).to_contain_text("Start over")
        stopped_at = int(re.search(r"Stopped at step (\d+)", status.inner_text()).group(1))
        page.get_by_role("tab", name="2 · Source and strategy").click()
        set_number(page, "steps", str(stopped_at + 3))
        page.get_by_role("tab", name="3 · Fine-tune").click()
        page.locator("#continue").click()
        sync_api.expect(status).to_contain_text(f"continued from step {stopped_at}", timeout=300_000)
        sync_api.expect(page.locator("#progress")).to_contain_text(f"{stopped_at + 3} / {stopped_at + 3}")
        page.get_by_role("tab", name="4 · Explore").click()
        sync_api.expect(page.locator("#explore_model")).to_contain_text("fine-tuned model")
        browser.close()
