"""The README's gradio_client example, run as written against the live app."""

import contextlib
import io
import os
import re
import shutil
import zipfile

from conftest import ROOT, SHARED, needs_shared


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README lost its API example"
    return m.group(1)


@needs_shared
def test_readme_api_example_runs(app_url, pipeline, tmp_path):
    shutil.copyfile(SHARED / "hm" / "images" / "0111586001.jpg", tmp_path / "shirt.jpg")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        z.write(tmp_path / "shirt.jpg", "a.jpg")
    (tmp_path / "products.csv").write_text("id,keywords,image\nsku-1,\"Leggings, Black\",a.jpg\nsku-2,Mug,missing.jpg\n")
    code = readme_example().replace("http://127.0.0.1:7860/", app_url)
    before = {a.id for a in pipeline.approvals.list()}
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = out.getvalue()
    assert "approved as #" in printed and "1 of 2 product(s) drafted" in printed
    for a in pipeline.approvals.list():  # leave the session's catalog as it was
        if a.id not in before:
            pipeline.approvals.delete(a.id)
