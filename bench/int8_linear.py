"""Which int8 Linear could keep a request's rows independent of the other requests in its batch (issue 21)?

The writer's int8 layers (`torch.ao.quantization.quantize_dynamic`) scale each call's input with one scale, so
a batch's rows change each other's rounding. This times, for the 1.5B writer's Linear shapes and 1-32 rows, that
layer against PyTorch's weight-only int8 kernel (`aten._weight_int8pack_mm`: activations stay float, so rows are
independent) and fp32, and checks each kernel's row 0 alone against row 0 in the batch.

    python bench/int8_linear.py [--out bench/results/performance/int8_linear.json]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

SHAPES = [(1536, 8960), (8960, 1536), (1536, 1536)]  # Qwen2.5-1.5B: MLP up/gate, MLP down, attention q/o
ROWS = (1, 4, 12, 32)


def ms(f, n: int = 30) -> float:
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return round((time.perf_counter() - t0) / n * 1000, 2)


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "performance" / "int8_linear.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    rows_out = []
    for i, o in SHAPES:
        lin = torch.nn.Linear(i, o, bias=False)
        dyn = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
        scale = lin.weight.abs().amax(1) / 127
        wq = torch.round(lin.weight / scale[:, None]).to(torch.int8)
        packed = lambda x: torch.ops.aten._weight_int8pack_mm(x, wq, scale)  # noqa: E731
        for rows in ROWS:
            x = torch.randn(rows, i)
            rows_out.append({"shape": [i, o], "rows": rows, "dynamic_int8_ms": ms(lambda: dyn(x)), "weight_only_int8_ms": ms(lambda: packed(x)),
                             "fp32_ms": ms(lambda: lin(x)),
                             "dynamic_int8_row0_alone_vs_batched": float((dyn(x[:1]) - dyn(x)[:1]).abs().max()),
                             "weight_only_row0_alone_vs_batched": float((packed(x[:1]) - packed(x)[:1]).abs().max())})
            print(rows_out[-1])
    result = {"command": "python bench/int8_linear.py", "torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows_out}
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
