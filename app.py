"""ecomcopy web app (Gradio): photo + keywords -> most similar catalog product -> sampled drafts -> pick and edit.

Thin on purpose: every decision lives in the `ecomcopy` package; this file only lays out the page
and turns package errors into messages. Run `python app.py` (127.0.0.1:7860) or as a Hugging Face Space.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import warnings
from functools import lru_cache

import gradio as gr
import PIL.Image

from ecomcopy.catalog import DEFAULT_IMAGE_WEIGHT
from ecomcopy.errors import EcomcopyError
from ecomcopy.generate import SamplingConfig
from ecomcopy.images import MAX_FILE_BYTES, MAX_PIXELS
from ecomcopy.keywords import MAX_KEYWORDS_CHARS
from ecomcopy.lm import DEFAULT_LM
from ecomcopy.paths import ASSETS_DIR, DEMO_CATALOG_DB
from ecomcopy.pipeline import Pipeline, PipelineConfig

log = logging.getLogger("ecomcopy.app")
warnings.filterwarnings("ignore", category=DeprecationWarning)


class PhotoInput(gr.Image):
    """gr.Image whose upload errors become a plain message (gr.Image raises PIL's errors as they are)."""

    is_template = True  # render with the ordinary Image front end

    def preprocess(self, payload):  # type: ignore[override]
        try:
            return super().preprocess(payload)
        except PIL.Image.DecompressionBombError:
            raise gr.Error(f"That photo is over {MAX_PIXELS // 1_000_000} megapixels; resize it first.") from None
        except Exception:  # noqa: BLE001 - any unreadable upload gets the same clear answer
            raise gr.Error("That file is not an image we can read; upload a JPEG, PNG or WebP photo.") from None


@lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    """Models load once per process, on first use, and are shared by every request."""
    return Pipeline(
        PipelineConfig(
            catalog=os.environ.get("ECOMCOPY_CATALOG", str(DEMO_CATALOG_DB)),
            lm=os.environ.get("ECOMCOPY_LM", DEFAULT_LM),
            image_weight=float(os.environ.get("ECOMCOPY_IMAGE_WEIGHT", DEFAULT_IMAGE_WEIGHT)),
        )
    )


def _hit_text(hit) -> tuple[str, str, str]:
    p = hit.product
    header = f"{p.name} ({p.id}): similarity {hit.score:.2f}"
    return header, ", ".join(p.keywords), p.description


def generate(image_path, keywords, n, temperature, top_p, max_tokens, exclude_group="", writer="modict"):
    """The `generate` endpoint: returns the reference (photo, title, keywords, description), the drafts and a JSON summary."""
    try:
        pipe = get_pipeline()
        sampling = SamplingConfig(int(n), float(temperature), float(top_p), int(max_tokens))
        result = pipe.suggest(image_path, keywords, sampling, exclude_group=exclude_group or None, writer=writer or "modict")
    except EcomcopyError as e:
        raise gr.Error(str(e)) from None
    except Exception:  # noqa: BLE001 - log for us, a plain sentence for the user
        log.exception("generate failed")
        raise gr.Error("Something went wrong while writing drafts; please try again. The details are in the server log.") from None
    header, ref_kw, ref_desc = _hit_text(result.reference)
    drafts = result.drafts
    first = drafts[0] if drafts else ""
    return (
        str(result.reference.product.image_path),
        header,
        ref_kw,
        ref_desc,
        gr.update(choices=drafts, value=first),
        first,
        result.to_dict(),
    )


def pick(draft: str) -> str:
    return draft or ""


def examples(k: int = 4) -> list[list[str]]:
    """A few products from the shipped catalog (the pipeline skips a reference with the very same photo)."""
    try:
        products = get_pipeline().catalog.products()
    except EcomcopyError:
        return []
    rng = random.Random(7)
    picks = rng.sample([p for p in products if p.id.startswith("hm-")], k - 1) + rng.sample([p for p in products if p.id.startswith("ikea-")], 1)
    return [[str(p.image_path), ", ".join(p.keywords)] for p in picks]


CSS = ".ref-photo img {object-fit: contain}"


def build_ui() -> gr.Blocks:
    with gr.Blocks(title="ecomcopy") as demo:
        gr.Markdown(
            "# ecomcopy\nUpload a product photo and type a few keywords. ecomcopy finds the most similar product "
            "in the catalog, uses it as a reference, and writes several drafts for you to pick from and edit."
        )
        exclude_group = gr.Textbox(visible=False)
        with gr.Row():
            with gr.Column(scale=1):
                photo = PhotoInput(label="Product photo", type="filepath", image_mode=None, sources=["upload", "clipboard"], height=300)
                keywords = gr.Textbox(label="Keywords", placeholder="e.g. dress, black, jersey, V-neck", max_length=MAX_KEYWORDS_CHARS, lines=2)
                with gr.Accordion("Settings", open=False):
                    n = gr.Slider(1, 8, value=4, step=1, label="Number of drafts")
                    temperature = gr.Slider(0.1, 1.5, value=0.8, step=0.05, label="Creativity (temperature)")
                    top_p = gr.Slider(0.5, 1.0, value=0.9, step=0.05, label="Top-p")
                    max_tokens = gr.Slider(20, 120, value=60, step=5, label="Maximum length (tokens)")
                    writer = gr.Radio(
                        [("ModICT (trained on the reference)", "modict"), ("Plain prompt (no training)", "prompt")],
                        value="modict", label="Writer", visible=get_pipeline().modict is not None,
                    )
                go = gr.Button("Write drafts", variant="primary")
            with gr.Column(scale=1):
                gr.Markdown("### Most similar catalog product (the reference)")
                with gr.Row():
                    ref_photo = gr.Image(label="Reference photo", interactive=False, height=220, elem_classes="ref-photo")
                    with gr.Column():
                        ref_title = gr.Textbox(label="Product", interactive=False)
                        ref_keywords = gr.Textbox(label="Its keywords", interactive=False)
                ref_description = gr.Textbox(label="Its description", interactive=False, lines=3)
        gr.Markdown("### Drafts")
        drafts = gr.Radio(label="Pick a draft", choices=[], type="value")
        chosen = gr.Textbox(label="Your description (editable)", lines=4, buttons=["copy"], interactive=True)
        with gr.Accordion("Result as JSON (what the API returns)", open=False):
            result_json = gr.JSON(label="Result")
        gr.Examples(examples=examples(), inputs=[photo, keywords], label="Try a catalog product")
        gr.Markdown(
            "Demo catalog: a sample of the H&M Personalized Fashion Recommendations data and the IKEA product data "
            "of Tautkute et al. (FedCSIS 2017), both for non-commercial research use; see assets/catalog/SOURCES.md."
        )
        go.click(
            generate,
            inputs=[photo, keywords, n, temperature, top_p, max_tokens, exclude_group, writer],
            outputs=[ref_photo, ref_title, ref_keywords, ref_description, drafts, chosen, result_json],
            api_name="generate",
            concurrency_limit=1,
        )
        drafts.change(pick, inputs=drafts, outputs=chosen, api_visibility="private")
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    """Load the models, build the page and serve it; `block=False` returns at once (tests)."""
    get_pipeline()  # load models before the first visitor waits for them
    demo = build_ui()
    demo.queue(default_concurrency_limit=1, max_size=32).launch(
        server_name=host,
        server_port=port,
        share=False,
        allowed_paths=[str(ASSETS_DIR)],
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
        show_error=False,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Launch the ecomcopy web app.")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="127.0.0.1 unless you mean to expose it")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(args.host, args.port)


if __name__ == "__main__":
    main()
