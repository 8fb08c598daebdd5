"""An alternative style family of synthetic satellite video, for VALIDATION.

What it is for: a validation archive that the training renderer (`tgram synth`) cannot look
like, so that choosing weights and thresholds on validation rewards generalisation rather
than fit to one renderer. It is the third independent renderer of the project: it shares no
drawing code with tgram.synth (training) or tgram.heldout (the held-out style family, which
stays for testing only); it uses only the file formats, the video writer, the meta record,
class ids and storage helpers. `tgram synth-altstyle OUT` writes the `tgram synth` layout
with ids `altstyle_0000`, ... and the same classes (airplane, ship, vehicle).

What it draws, from the properties of very-high-resolution satellite video rather than from
either renderer:
- a city on a street grid at any angle (a third on the compass), two- and four-lane streets
  with right-hand traffic at per-lane speeds and queues standing at lights; blocks of
  buildings with cast shadows and rooftop plant, paved parking lots with painted slots at a
  per-lot occupancy, parks with trees, bare and cropped fields; in some videos a straight
  shore with a quay, moored ships and ships under way with wakes, or an apron of parked
  airplanes; a ground sample distance of 0.45-0.8 m/px, so vehicles keep their metric sizes
  (cars 4.1-4.9 m, vans, trucks, buses) and roof colours follow world traffic (white, black,
  greys and silver dominate);
- objects as anti-aliased polygons at 1/16 px precision, no supersampling; static ones part
  of the world image, which each frame resamples (bicubic) at the platform's sub-pixel offset;
- the platform: a linear drift and two sinusoidal jitters (the gt follows them);
- the sensor: white balance, saturation, haze toward a blue-grey airlight, Gaussian optics,
  gamma, signal-dependent noise, and in 70 % of videos a JPEG round trip before H.264.

Modules: config (AltStyleConfig), look (per-video look), shapes (designs and painting),
scene (the world), video (AltVideo, generate_altstyle_archive).
"""

from tgram.altstyle.config import AltStyleConfig
from tgram.altstyle.video import AltVideo, generate_altstyle_archive

__all__ = ["AltStyleConfig", "AltVideo", "generate_altstyle_archive"]
