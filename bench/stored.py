"""What the scripts that re-read stored `evaluate --json` results share: the texts a result's ids point at, and
its per-product greedy scores. Nothing is generated."""

from __future__ import annotations


from ecomcopy.metrics import rouge_l
from ecomcopy.config import DEMO_CATALOG_DB
from ecomcopy.products import read_products


def human_descriptions(data: str, result: dict) -> dict[str, str]:
    """The shop's own description of each product of the folder and split the result was run on."""
    return {p.id: p.description for p in read_products(data, split=result["split"]).products}


def catalog_descriptions() -> dict[str, str]:
    """The description of each product of the shipped demo catalog (where the references come from)."""
    return {p.id: p.description for p in read_products(DEMO_CATALOG_DB.parent).products}


def greedy_rouge_l(records: list[dict], truth: dict[str, str], row: str) -> list[float]:
    """ROUGE-L of each product's greedy draft of one row against the shop's description."""
    return [rouge_l(truth[r["id"]], r["drafts"][row]["greedy"]) for r in records]
