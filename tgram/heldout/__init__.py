"""A held-out style family of synthetic satellite video, for EVALUATION ONLY.

What it is for: measuring how well a detector/tracker trained on the project's own renderer
(`tgram synth`, tgram.data) generalises to satellite-like imagery it has never seen. Never
train, fine-tune, select checkpoints or tune thresholds on it: the moment it informs a
training decision it stops measuring generalisation. `tgram synth-heldout OUT` writes it in
the same layout as `tgram synth` (videos/<id>.mp4, gt/<id>.txt, meta/<id>.json with the
platform shift, speeds/<id>.csv), ids `heldout_0000`, ..., with the same classes and gt
class ids (airplane, ship, vehicle).

How it differs from the training renderer (it shares no drawing code with tgram.data; it
uses only its file formats, the video writer, class ids and storage helpers):

- scenes: gently curved and diagonal roads, an elevated highway with its shadow, bridges that
  hide what passes under them, dense perpendicular parking rows (slots 6-8 px), a coast or a
  river with moored and moving boats and a pier, an apron with parked and taxiing airplanes,
  roof blocks with cast shadows; per-video ground sample distance 0.8-1.2 m/px;
- ground: bicubic value-noise terrain in palette families the training set does not draw
  (arid desert with wadis and ripples, snowy winter, grey-brown steppe with ploughed
  fields, dark volcanic ground) and per-family vegetation;
- objects: own vehicle, ship and airplane designs, drawn as rotated polygons 4x supersampled
  with cv2.fillPoly and area-averaged, with cast shadows along a per-video sun direction and
  V wakes behind moving ships;
- colour: per-video white balance (colour temperature), saturation, gamma, S-shaped tone
  curve and black lift;
- optics and sensor: a defocus disk convolved with an anisotropic rotated Gaussian PSF;
  signal-dependent (Poisson-like) luminance noise, fixed-pattern column banding in detector
  segments, row banding and row flicker; a mild vignette; an optional thin drifting haze;
  smooth platform drift plus AR(1) jitter (the gt follows it exactly); H.264 at the
  configured crf.

Modules: config (HeldoutConfig), style (per-video look), terrain (ground), geometry (paths,
polygons, coverage), objects (shapes, stamping), scene (layout, background, lanes), camera
(platform and sensor), render (HeldoutVideo, generate_heldout_archive).
"""

from tgram.heldout.config import HeldoutConfig
from tgram.heldout.render import HeldoutVideo, generate_heldout_archive

__all__ = ["HeldoutConfig", "HeldoutVideo", "generate_heldout_archive"]
