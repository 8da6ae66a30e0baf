"""Independent quality probes for generated videos (no diffusers import: plain torch / numpy / OpenCV).

:mod:`mirage_world.eval.consistency` measures whether a generated video agrees with its input photo where the
photo's geometry says it must: the photo forward-warped with its depth into every generated camera, compared by
PSNR on the pixels the warp covers, plus contact sheets for looking at a video at a glance.
"""

from __future__ import annotations

from mirage_world.eval.consistency import (
    consistency_metrics,
    contact_sheet,
    contact_sheet_indices,
    forward_warp,
    forward_warp_reference,
    pose_distance,
    psnr,
    remove_see_through,
    save_contact_sheet,
)

__all__ = [
    "consistency_metrics",
    "contact_sheet",
    "contact_sheet_indices",
    "forward_warp",
    "forward_warp_reference",
    "pose_distance",
    "psnr",
    "remove_see_through",
    "save_contact_sheet",
]
