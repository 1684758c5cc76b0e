"""Seeing what a CNN looks at: Grad-CAM and friends, written to be read.

One small module per idea:

* ``capture``    the hook pair: one layer's activation and its gradient
* ``base``       targets, weighted sum, scaling: what every CAM method shares
* ``gradcam``    Grad-CAM (Selvaraju et al., 2017)
* ``gradcampp``  Grad-CAM++ (Chattopadhay et al., 2018)
* ``guided``     Guided Backprop and Guided Grad-CAM
* ``overlay``    heat map on photo with an OpenCV colour map
* ``metrics``    checks against ground-truth masks (pointing game, energy in mask)
* ``sanity``     the model-randomisation sanity check (Adebayo et al., 2018)
"""

from course_utils.gradcam.base import BaseCAM, CAMResult, scale_maps, upsample
from course_utils.gradcam.capture import LayerCapture
from course_utils.gradcam.gradcam import GradCAM
from course_utils.gradcam.gradcampp import GradCAMPlusPlus
from course_utils.gradcam.guided import GuidedBackprop, guided_gradcam, guided_relus, to_image
from course_utils.gradcam.overlay import overlay, resize_map

__all__ = [
    "BaseCAM", "CAMResult", "LayerCapture", "scale_maps", "upsample",
    "GradCAM", "GradCAMPlusPlus", "GuidedBackprop", "guided_gradcam", "guided_relus", "to_image",
    "overlay", "resize_map",
]
