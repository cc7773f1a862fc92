import json

from conftest import SHARED, needs_shared
from test_cli import run_cli

KEYS = {"rouge_l", "bleu4", "distinct4", "keyword_coverage", "copy_rate", "reference_rouge_l"}


@needs_shared
def test_evaluate_limit_3_end_to_end():
    r = run_cli("evaluate", "--data", str(SHARED / "ikea"), "--split", "test", "--limit", "3", "--n", "2", "--temperature", "0.6",
                "--json", timeout=900)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_products"] == 3
    rows = out["rows"]
    assert {"copy_reference", "icl_prompt"} <= set(rows)
    if out["adapter"]:  # the shipped ModICT adapter is present: all six rows
        assert set(rows) == {"copy_reference", "icl_prompt", "modict_no_reference", "modict_random_reference", "modict_no_visual", "modict"}
    for row in rows.values():
        assert KEYS <= set(row) and all(0.0 <= row[k] <= 1.0 for k in KEYS)
    assert rows["copy_reference"]["copy_rate"] == 1.0  # copying the reference is, by definition, copying
    assert rows["copy_reference"]["reference_rouge_l"] == 1.0
    if out["adapter"]:  # the shipped guard: no ModICT draft holds 8 words of its reference in a row
        assert rows["modict"]["copy_rate"] == 0.0 or out["copy_guard"] != "words"
    assert all(row["perplexity"] > 1.0 for row in rows.values()) and out["human_perplexity"] > 1.0
    assert out["keyword_boost"] >= 0.0 and out["temperature"] == 0.6  # the decoding asked for, on record
    first = out["products"][0]  # the drafts behind the numbers, per product and row
    assert len(out["products"]) == 3 and first["keywords"] and set(first["drafts"]) == set(rows)
    assert first["drafts"]["copy_reference"]["greedy"] and 1 <= len(first["drafts"]["icl_prompt"]["sampled"]) <= 2


def test_evaluate_bad_folder(tmp_path):
    r = run_cli("evaluate", "--data", str(tmp_path), "--adapter", "none", timeout=300)
    assert r.returncode != 0 and "products.jsonl" in r.stderr and "Traceback" not in r.stderr
