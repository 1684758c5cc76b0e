"""Download every weights file the course uses, ahead of time: ``make prefetch``.

Run it the day before a workshop (or on a laptop before a flight). Files already
in the cache and matching their official hash are skipped; anything else is
fetched with a progress bar and checked. Exit status 0 means the course can run
with no network at all.
"""

from __future__ import annotations

import sys

import torch

from course_utils.weights import COURSE_WEIGHTS, get_weights, weights_status


def prefetch(progress: bool = True) -> bool:
    """Fetch and verify each course file; return True when all are verified."""
    all_ok = True
    for arch, name in COURSE_WEIGHTS.items():
        status = weights_status(arch, name)
        if status.state == "verified":
            print(f"ok        {status.file_name} already cached and verified")
            continue
        if status.state == "mismatch":
            print(f"replacing {status.file_name}: it does not match its hash (stand-in or corrupted)")
            status.path.unlink()
        print(f"fetching  {status.file_name} (about {status.approx_mb:.0f} MiB) into {status.path.parent}")
        try:
            w = get_weights(arch, name)
            torch.hub.load_state_dict_from_url(w.url, progress=progress, check_hash=True, weights_only=True)
        except Exception as err:  # noqa: BLE001 - report and go on to the next file
            print(f"FAILED    {status.file_name}: {err}")
            all_ok = False
            continue
        status = weights_status(arch, name)
        print(f"{'ok' if status.verified else 'BAD':9} {status.file_name} {status.state}")
        all_ok &= status.verified
    return all_ok


if __name__ == "__main__":
    sys.exit(0 if prefetch() else 1)
