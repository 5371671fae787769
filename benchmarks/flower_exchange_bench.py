"""Client-side cost of exchanging the example's adapter (SmolLM2-135M, LoRA r=16 on q_proj/v_proj: 120 tensors,
921,600 values): Flower's ArrayRecord both ways vs netbench's dense-fp16 frame both ways; best of 5, 1 thread.

    PYTHONPATH=. python benchmarks/flower_exchange_bench.py      # needs the [flower] extra
"""
import time

import torch
torch.set_num_threads(1)
from examples.flower.flowertune_netbench import task
from flwr.app import ArrayRecord
from fl_core.model.adapter import Layout
from fl_core.codec.payload import SparseVector
from fl_core.codec.wire import Header, encode_message, decode_message, SERVER
s = task.Settings()
model, _ = task.lora_model(s)


def t(f, n=5):
    best = 1e9
    for _ in range(n):
        a = time.perf_counter(); r = f(); best = min(best, time.perf_counter() - a)
    return best, r


up, rec = t(lambda: ArrayRecord(task.adapter_state(model)))
down, _ = t(lambda: task.load_adapter(model, rec.to_torch_state_dict()))
params = dict(model.named_parameters()); layout = Layout.from_state(params)
vec = layout.flatten(params)
hdr = Header("fedit", 0, 0, SERVER, "dense-fp16", layout.fingerprint, 0, layout.numel)
enc, msg = t(lambda: encode_message(hdr, SparseVector.full(vec)))
dec, _ = t(lambda: decode_message(msg.data, layout.fingerprint, layout.numel))
print(f"flower: state_dict->ArrayRecord {up*1e3:.1f} ms, ArrayRecord->model {down*1e3:.1f} ms; "
      f"netbench: encode {enc*1e3:.1f} ms, decode {dec*1e3:.1f} ms (flatten excluded); numel {layout.numel}")
