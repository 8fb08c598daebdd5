"""The synthetic world: Jilin-1-like satellite video with exact ground truth (`tgram synth`).

Training data, benchmarks and the demo come from here; nothing in tgram's real input and
output path (tgram.data, tgram.pipeline) depends on it. `archive` writes archives, `video`
is one video (scene, objects, sensor), `config` and `style` say what may be drawn.
"""

from tgram.synth.archive import generate_archive
from tgram.synth.config import StyleRanges, SynthConfig
from tgram.synth.video import SyntheticVideo

__all__ = ["StyleRanges", "SynthConfig", "SyntheticVideo", "generate_archive"]
