"""Pressing the stop button during training is a normal way to stop (issue: nothing silently wrong).

A real kernel runs ``train`` on a deliberately slow loader; the test waits for the first
checkpoint, then interrupts the kernel exactly as JupyterLab's stop button does (SIGINT).
The cell must finish without a traceback, return the history so far marked as interrupted,
say how to continue, and leave the last checkpoint loadable.
"""

from __future__ import annotations

import sys
import time

import pytest
from jupyter_client.manager import start_new_kernel

TRAIN = """
import time, torch
from torch.utils.data import DataLoader, TensorDataset
from course_utils.training import train

class Slow(TensorDataset):          # 40 images at 0.05 s each: about 4 s an epoch (train + validation)
    def __getitem__(self, i):
        time.sleep(0.05)
        return super().__getitem__(i)

torch.manual_seed(0)
loader = DataLoader(Slow(torch.rand(40, 3, 8, 8), torch.randint(0, 2, (40,))), batch_size=8)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
history = train(model, loader, loader, 50, checkpoint=CKPT, device="cpu", progress=False)
print("RETURNED", history.epochs, history.interrupted)
"""


def _run(kc, code: str, timeout: float = 120, interrupt_when=None, km=None) -> tuple[str, list[str]]:
    """Execute ``code``; return (stdout, error names). ``interrupt_when()`` true -> interrupt the kernel once."""
    msg_id = kc.execute(code)
    out, errors, deadline, interrupted = [], [], time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        if interrupt_when is not None and not interrupted and interrupt_when():
            km.interrupt_kernel()
            interrupted = True
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            errors.append(content["ename"])
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out), errors
    pytest.fail(f"the cell did not finish in {timeout} s; output so far: {''.join(out)[-2000:]}")


@pytest.mark.skipif(sys.platform == "win32", reason="interrupting a kernel is SIGINT on POSIX")
def test_stopping_a_training_cell_returns_the_history_and_keeps_the_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        _, errors = _run(kc, f"CKPT = {str(ckpt)!r}")
        assert errors == []
        out, errors = _run(kc, TRAIN, interrupt_when=ckpt.is_file, km=km)
        assert errors == [], f"the interrupt came out as {errors}: {out}"
        assert "RETURNED" in out and "True" in out.split("RETURNED")[1], out
        assert "Training stopped after" in out and "resume=True" in out, out
        check = ("from course_utils.checkpoints import load_checkpoint\n"
                 "state = load_checkpoint(CKPT)\n"
                 "assert history.epochs >= 1 and state['epoch'] >= 1\n"
                 "assert len(set(map(len, [history.train_loss, history.val_acc, history.seconds]))) == 1\n"
                 "print('OK', history.epochs, state['epoch'])")
        out, errors = _run(kc, check)
        assert errors == [] and out.startswith("OK"), (errors, out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
