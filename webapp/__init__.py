"""The Gradio app's pieces; app.py at the repository root is the entry point (and the Space's).

plumbing: the GPU decorator, error handling and session lifetime; setup_tabs: handlers of tabs 1-3
(images, source and strategy, fine-tuning); explore: handlers of tab 4; text: the markdown and HTML
the handlers show; layout: the page itself.
Handlers are plain functions, testable without a browser; non-UI logic lives in tgan/appkit.
This package imports nothing here, so that `import webapp.plumbing` can load `spaces` before torch.
"""
