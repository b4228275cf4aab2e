"""The page: four tabs, their controls, and the events that wire them to the handlers."""
import os

import gradio as gr

from tgan import DEFAULT_PRESET, PRESETS, STRATEGIES
from tgan.config import TrainConfig
from tgan.strategies import preset_lr
import appkit as sup

from .explore import (cancel_projection, compare, download_samples, interpolate, make_gif, make_mp4, pca_edit, project_image, refresh_explore,
                      refresh_singles, select_seed, show_seeds)
from .plumbing import (training_device, DEFAULT_STEPS, EXAMPLES, EXPLORE_CONCURRENCY, NONE_SOURCE, TRAIN_CONCURRENCY, new_session,
                       on_state_deleted, on_unload)
from .text import INTRO
from .setup_tabs import (choose_preset, continue_button, continue_run, loss_frame, monitor_frame, refresh_sources, score_kid,
                         source_info, stop_run, advise_run, check_images, DOCTOR_COLUMNS, train_run, upload_images, upload_source,
                         use_example)


def _option_control(strategy: str, field: str, default, help_text: str, value):
    """The control of one strategy option, of its default's type, showing `value` (a preset's own)."""
    common = dict(label=field, info=help_text or None, elem_id=f"opt_{strategy}_{field}")
    if isinstance(default, bool):
        return gr.Checkbox(value=value, **common)
    if isinstance(default, int):
        return gr.Number(value=value, precision=0, minimum=0, **common)
    if isinstance(default, float):
        return gr.Number(value=value, minimum=0, **common)
    return gr.Textbox(value=str(value), **common)


def build_demo() -> gr.Blocks:
    names = sup.source_names()
    # Without any source model (e.g. checkpoints not downloaded yet) only training from scratch works.
    first_preset = DEFAULT_PRESET if names or "from scratch" not in PRESETS else "from scratch"
    # delete_cache: images streamed to browsers pile up in gradio's cache; drop them after an hour.
    with gr.Blocks(title="tgan · few-shot GAN transfer", delete_cache=(1800, 3600)) as demo:
        sess = gr.State(new_session, delete_callback=on_state_deleted)
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Tabs(elem_id="tabs") as tabs:
            # ---------------------------------------------------------------- 1
            with gr.Tab("1 · Your images", id="images", elem_id="tab_images"):
                with gr.Row():
                    with gr.Column(scale=2):
                        # No file_types filter: a stray file is listed with its reason, not refused.
                        files = gr.File(label="Upload images or one .zip", file_count="multiple",
                                        height=320, elem_id="upload")
                        gr.Markdown("Or try an example set:")
                        with gr.Row():
                            example_buttons = {}
                            for name, label in sup.EXAMPLE_SETS.items():
                                with gr.Column(min_width=120):
                                    gr.Image(sup.example_preview(EXAMPLES / name), show_label=False, interactive=False,
                                             container=False, buttons=[], elem_id=f"ex_preview_{name}")
                                    example_buttons[name] = gr.Button(label, size="sm", elem_id=f"ex_{name}")
                    with gr.Column(scale=3):
                        summary = gr.Markdown("No images yet.", elem_id="upload_summary")
                        doctor = gr.Dataframe(headers=DOCTOR_COLUMNS, label="Dataset check: what could spoil a "
                                              "run, file by file", interactive=False, wrap=True, elem_id="doctor")
                        # The label as a heading above, not a chip over the first thumbnails; no preview
                        # mode, so one image stays a thumbnail instead of filling the box.
                        gr.Markdown("**What the model will see**", elem_id="images_gallery_label")
                        gallery = gr.Gallery(show_label=False, columns=6, height=360, object_fit="contain",
                                             allow_preview=False, preview=False, format="png",
                                             elem_id="images_gallery")
                with gr.Row():
                    next_2 = gr.Button("Next: source and strategy →", size="sm", scale=0, min_width=240,
                                       elem_id="next_2")
            # ---------------------------------------------------------------- 2
            with gr.Tab("2 · Source and strategy", id="source", elem_id="tab_source"):
                with gr.Row():
                    with gr.Column():
                        with gr.Row():
                            source = gr.Dropdown([(n, n) for n in names] + [NONE_SOURCE],
                                                 value=names[0] if names else "", label="Source model",
                                                 scale=4, elem_id="source")
                            refresh = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="refresh_sources")
                        own_source = gr.File(label="Or bring your own source: a tgan model .zip (config.json + "
                                                   "model.safetensors, e.g. a Download from tab 3)",
                                             elem_id="own_source")  # any type: a pickle gets its explanation
                        advice = gr.Markdown("", elem_id="advice")
                        source_card = gr.Markdown(elem_id="source_card")
                        source_preview = gr.Image(label="What the source makes", interactive=False,
                                                  format="png", elem_id="source_preview")
                    with gr.Column():
                        preset = gr.Dropdown(list(PRESETS), value=first_preset, label="Strategy preset",
                                             elem_id="preset")
                        preset_why = gr.Markdown(f"*{PRESETS[first_preset][1]}*", elem_id="preset_why")
                        with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                            strategies = gr.CheckboxGroup(list(STRATEGIES), value=PRESETS[first_preset][0],
                                                          label="Strategies (the preset fills these in)",
                                                          elem_id="strategies")
                            with gr.Row():
                                steps = gr.Slider(1, sup.MAX_STEPS, value=DEFAULT_STEPS, step=1, label="Steps",
                                                  elem_id="steps")
                                batch = gr.Slider(1, sup.MAX_BATCH, value=16, step=1, label="Batch size",
                                                  elem_id="batch_size")
                            with gr.Row():
                                lr = gr.Number(preset_lr(first_preset, TrainConfig.lr_g), label="Learning rate (G and D)", minimum=sup.LR_RANGE[0],
                                               maximum=sup.LR_RANGE[1], elem_id="lr")
                                seed = gr.Number(0, precision=0, minimum=0, maximum=sup.SEED_MAX,
                                                 label="Seed", elem_id="seed")
                            flip = gr.Radio(list(sup.FLIP_CHOICES), value=sup.DEFAULT_FLIP,
                                            label="Mirror images at random (x-flip)",
                                            info="No for images a mirror changes: text, glyphs, logos",
                                            elem_id="flip")
                            options, option_groups = [], {}
                            first_values = sup.preset_option_values(first_preset)
                            for strat in STRATEGIES:  # controls generated from each strategy's fields
                                specs = [(*s, v) for s, v in zip(sup.option_specs(), first_values) if s[0] == strat]
                                if specs:
                                    with gr.Column(visible=strat in PRESETS[first_preset][0],
                                                   elem_id=f"opts_{strat}") as option_groups[strat]:
                                        gr.Markdown(f"**{strat}** — {STRATEGIES[strat].why}")
                                        with gr.Row():
                                            options += [_option_control(*s) for s in specs]
                gr.Markdown(f"Training runs on **{training_device()}** · {os.cpu_count()} CPU cores "
                            "on this machine.", elem_id="device")
                with gr.Row():
                    next_3 = gr.Button("Next: fine-tune →", size="sm", scale=0, min_width=240, elem_id="next_3")
            # ---------------------------------------------------------------- 3
            with gr.Tab("3 · Fine-tune", id="train", elem_id="tab_train"):
                with gr.Row():
                    start = gr.Button("Start fine-tuning", variant="primary", elem_id="start")
                    resume = gr.Button("Continue", variant="primary", visible=False, elem_id="continue")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                progress = gr.HTML("", elem_id="progress")
                status = gr.Markdown("Press Start. The grid on the right is refreshed as training goes; "
                                     "the left one is the source model on the same latents.", elem_id="status")
                with gr.Row():
                    source_samples = gr.Image(label="Source model, same latents", interactive=False,
                                              format="png", elem_id="source_samples")
                    samples = gr.Image(label="Fine-tuned samples (fixed latents)", interactive=False,
                                       format="png", elem_id="samples")
                with gr.Row():
                    loss_plot = gr.LinePlot(loss_frame([]), x="step", y="loss", color="term", label="Losses",
                                            elem_id="loss_plot")
                    monitor_plot = gr.LinePlot(monitor_frame([]), x="step", y="value", color="signal",
                                               label="Monitor: copying (~1 healthy, → 0 copies), diversity "
                                                     "(→ 0 collapsed), fidelity ×10 (lower is closer)",
                                               elem_id="monitor_plot")
                monitor_text = gr.Markdown("", elem_id="monitor")
                with gr.Row():
                    with gr.Column():
                        with gr.Row():
                            score_btn = gr.Button("Score", elem_id="score")
                            with_source = gr.Checkbox(False, label="also score the source (twice as slow)",
                                                      elem_id="score_source")
                        kid = gr.Markdown("The score compares samples of the fine-tuned model with your "
                                          "held-out images (or, with under 20 images, the training images) "
                                          "in two feature spaces, and says whether it copies them. About a "
                                          "minute on a CPU; a bar shows how far it got.", elem_id="kid")
                    run_file = gr.File(label="Download the model (config.json + model.safetensors)",
                                       interactive=False, elem_id="download_run")
            # ---------------------------------------------------------------- 4
            with gr.Tab("4 · Explore", id="explore", elem_id="tab_explore") as explore_tab:
                explore_label = gr.Markdown(elem_id="explore_model")
                with gr.Row():
                    start_seed = gr.Number(0, precision=0, minimum=0, maximum=sup.SEED_MAX - sup.GALLERY_SEEDS,
                                           label="First seed", scale=1, elem_id="start_seed")
                    psi = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ (lower: more typical)",
                                    scale=2, elem_id="psi")
                    show = gr.Button("Show seeds", scale=0, min_width=140, elem_id="show_seeds")
                gr.Markdown("**Seeds** (click one to select it)", elem_id="seed_gallery_label")
                seed_gallery = gr.Gallery(show_label=False, columns=8, height=300, object_fit="contain",
                                          allow_preview=False, format="png", elem_id="seed_gallery")
                with gr.Row():
                    zip_btn = gr.Button("Download these as PNGs", size="sm", elem_id="download_samples")
                    samples_zip = gr.File(label="Samples zip", interactive=False, visible=False,
                                          elem_id="samples_zip")
                with gr.Row():
                    with gr.Column():
                        selected = gr.Number(0, precision=0, minimum=0, maximum=sup.SEED_MAX,
                                             label="Selected seed", elem_id="selected_seed")
                        mine = gr.Checkbox(False, label="Start from my image instead (put it in below)",
                                           elem_id="use_mine")
                        with gr.Row():
                            cmp_source = gr.Image(label="Source", interactive=False, format="png",
                                                  elem_id="cmp_source")
                            cmp_tuned = gr.Image(label="Fine-tuned (same latent)", interactive=False,
                                                 format="png", elem_id="cmp_finetuned")
                    with gr.Column():
                        gr.Markdown("**PCA directions** of the latent space (GANSpace), in standard deviations")
                        amounts = [gr.Slider(-4, 4, value=0, step=0.1, label=f"direction {i + 1}",
                                             elem_id=f"pca_{i}") for i in range(sup.PCA_COMPONENTS)]
                        pca_img = gr.Image(label="Selected seed, edited", interactive=False, format="png",
                                           elem_id="pca_img")
                gr.Markdown("**Put your image in**: find the latent whose image matches yours (a few seconds), "
                            "then walk from it: write **p** among the interpolation seeds")
                with gr.Row():
                    with gr.Column():
                        own_image = gr.Image(label="Your image", type="filepath", elem_id="own_image")
                        with gr.Row():
                            project_btn = gr.Button("Find it in the model", size="sm", elem_id="project")
                            cancel_project = gr.Button("Cancel", size="sm", variant="stop", min_width=80,
                                                       elem_id="cancel_project")
                    with gr.Column():
                        projected_img = gr.Image(label="Yours | reconstruction | nearest training image",
                                                 interactive=False, format="png", elem_id="projected_img")
                        projected_text = gr.Markdown("", elem_id="projected_text")
                gr.Markdown("**Interpolation** along a slerp path through the seeds (**p**: your image)")
                with gr.Row():
                    with gr.Column():
                        interp_seeds = gr.Textbox("3, 17, 42", label="Seeds (2 or more)", elem_id="interp_seeds")
                        interp_t = gr.Slider(0, 1, value=0, step=0.01, label="t", elem_id="interp_t")
                        with gr.Row():
                            gif_btn = gr.Button("Make GIF", size="sm", elem_id="make_gif")
                            mp4_btn = gr.Button("Make MP4", size="sm", elem_id="make_mp4")
                        anim_file = gr.File(label="Animation", interactive=False, visible=False,
                                            elem_id="anim_file")
                    interp_img = gr.Image(label="Interpolated", interactive=False, format="png",
                                          elem_id="interp_img")
                    with gr.Column():
                        anim_gif = gr.Image(label="GIF", interactive=False, type="filepath", visible=False,
                                            elem_id="anim_gif")
                        anim_video = gr.Video(label="MP4", interactive=False, visible=False, elem_id="anim_video")

        # ---------------------------------------------------------------- events
        fast = dict(concurrency_id="explore", concurrency_limit=EXPLORE_CONCURRENCY)
        live = dict(show_progress="hidden", trigger_mode="always_last", **fast)
        uploaded = files.upload(upload_images, [files, sess, source], [gallery, summary], api_name="upload")
        uploaded.success(check_images, sess, doctor, api_name="doctor").then(
            advise_run, [sess, source, preset], [source, preset, advice], api_name="advise")
        files.clear(upload_images, [files, sess, source], [gallery, summary], api_visibility="private")
        for name, button in example_buttons.items():
            button.click(use_example, [gr.State(name), sess, source], [gallery, summary, files],
                         api_name=f"example_{name.replace('-', '_')}").success(
                check_images, sess, doctor, api_visibility="private").then(
                advise_run, [sess, source, preset], [source, preset, advice], api_visibility="private")
        next_2.click(lambda: gr.Tabs(selected="source"), None, tabs, api_visibility="private")
        next_3.click(lambda: gr.Tabs(selected="train"), None, tabs, api_visibility="private")

        source.change(source_info, source, [source_preview, source_card], api_name="source_info", **fast)
        demo.load(source_info, source, [source_preview, source_card], api_visibility="private", **fast)
        refresh.click(refresh_sources, source, source, api_name="refresh_sources")
        own_source.upload(upload_source, [own_source, sess], source, api_name="upload_source")
        preset.change(choose_preset, preset, [strategies, preset_why, lr, *options], api_name="preset")
        strategies.change(lambda chosen: [gr.Column(visible=n in (chosen or [])) for n in option_groups],
                          strategies, list(option_groups.values()), api_visibility="private")

        explore_outputs = [seed_gallery, explore_label, cmp_source, cmp_tuned, interp_img, pca_img]
        explore_inputs = [sess, source, start_seed, psi, selected, mine, interp_seeds, interp_t, *amounts]
        train_inputs = [sess, source, strategies, steps, lr, batch, seed, flip, *options]
        train_outputs = [loss_plot, samples, source_samples, progress, status, run_file, monitor_plot, monitor_text]
        train_opts = dict(concurrency_id="train", concurrency_limit=TRAIN_CONCURRENCY, show_progress="minimal")
        run = start.click(train_run, train_inputs, train_outputs, api_name="train", **train_opts)
        run_on = resume.click(continue_run, train_inputs, train_outputs, api_name="continue", **train_opts)
        for job in (run, run_on):
            job.then(continue_button, sess, [start, resume], api_visibility="private")
            job.success(refresh_explore, explore_inputs, explore_outputs, api_visibility="private", **fast)
        # Stop does not cancel the training event: it asks the run to stop, and the training
        # handler saves it and shows the result itself.
        stopped = stop.click(stop_run, sess, [samples, progress, status, run_file], api_name="stop",
                             concurrency_limit=None)
        stopped.then(continue_button, sess, [start, resume], api_visibility="private")
        stopped.success(refresh_explore, explore_inputs, explore_outputs, api_visibility="private", **fast)
        score_btn.click(score_kid, [sess, with_source], kid, api_name="score", concurrency_id="score",
                        concurrency_limit=1)

        explore_tab.select(refresh_explore, explore_inputs, explore_outputs, api_name="explore", **fast)
        # ψ moves: the single images first (one quick event), then the 16-image gallery
        psi.change(refresh_singles, [sess, source, psi, selected, mine, interp_seeds, interp_t, *amounts],
                   [cmp_source, cmp_tuned, interp_img, pca_img], api_name="truncation", **live).then(
            show_seeds, [sess, source, start_seed, psi], [seed_gallery, explore_label],
            api_visibility="private", **live)
        gr.on([show.click, start_seed.submit], show_seeds, [sess, source, start_seed, psi],
              [seed_gallery, explore_label], api_name="seeds", **fast)
        seed_gallery.select(select_seed, sess, selected, api_visibility="private")
        selected.change(compare, [sess, source, selected, psi, mine], [cmp_source, cmp_tuned], api_name="compare",
                        **live)
        selected.change(pca_edit, [sess, source, selected, psi, mine, *amounts], pca_img, api_name="pca", **live)
        mine.change(compare, [sess, source, selected, psi, mine], [cmp_source, cmp_tuned],
                    api_visibility="private", **live)
        mine.change(pca_edit, [sess, source, selected, psi, mine, *amounts], pca_img, api_visibility="private",
                    **live)
        for slider in amounts:
            slider.change(pca_edit, [sess, source, selected, psi, mine, *amounts], pca_img,
                          api_visibility="private", **live)
        project_btn.click(project_image, [sess, source, own_image], [projected_img, projected_text, mine],
                          api_name="project", concurrency_id="score", concurrency_limit=1)
        # Not a Gradio `cancels=`: the projection ends after its step and still shows its best latent.
        cancel_project.click(cancel_projection, sess, None, api_name="cancel_project", concurrency_limit=None)
        gr.on([interp_t.change, interp_seeds.submit], interpolate, [sess, source, interp_seeds, interp_t, psi],
              interp_img, api_name="interpolate", **live)

        def reveal(gif: bool):  # the file/preview boxes stay hidden until they have something to show
            return lambda: (gr.update(visible=True), gr.update(visible=gif), gr.update(visible=not gif))

        anim_boxes = [anim_file, anim_gif, anim_video]
        gif_btn.click(make_gif, [sess, source, interp_seeds, psi], [anim_file, anim_gif], api_name="make_gif",
                      **fast).success(reveal(True), None, anim_boxes, api_visibility="private")
        mp4_btn.click(make_mp4, [sess, source, interp_seeds, psi], [anim_file, anim_video], api_name="make_mp4",
                      **fast).success(reveal(False), None, anim_boxes, api_visibility="private")
        zip_btn.click(download_samples, sess, samples_zip, api_name="download_samples", **fast).success(
            lambda: gr.update(visible=True), None, samples_zip, api_visibility="private")
        demo.unload(on_unload)
    return demo
