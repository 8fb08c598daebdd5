"""Constant-velocity Kalman filter in xyah space, vectorised over all tracks.

State per track: (cx, cy, a, h, vcx, vcy, va, vh) with a = w / h, velocities per frame.
Noise follows DeepSORT/JDE: position and velocity standard deviations are fractions of the
box height, so the filter is scale-free. A satellite vehicle is 4x8 px, though, where those
deviations fall under half a pixel, below the localisation error of a stride-4
detector: the gate shrinks until ordinary detection jitter reads as a chi-square outlier,
and as a height estimate drifts towards zero the covariances approach singular.
`std_floor_height_px` computes the height-relative deviations as if a box were never
shorter than that, which bounds every x, y, h variance from below (1 px^2 by default) and
so keeps the gate and the matrix inverses well-behaved for any box size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATE_DIM = 8
MEASUREMENT_DIM = 4
_POSITION_DIMS = np.array([0, 1, 3])  # cx, cy, h: the pixel-valued measurement components
_ASPECT_DIM = 2
# DeepSORT's absolute deviations for the unitless aspect ratio: process, velocity, measurement.
_ASPECT_STD = 1e-2
_ASPECT_VELOCITY_STD = 1e-5
_ASPECT_MEASUREMENT_STD = 1e-1

# F = [[I, I], [0, I]]: one frame of constant velocity.
_TRANSITION = np.eye(STATE_DIM) + np.eye(STATE_DIM, k=MEASUREMENT_DIM)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """[N, 4] corner boxes -> [N, 4] (centre x, centre y, aspect w/h, height), float64."""
    boxes = np.asarray(boxes, dtype=np.float64)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    return np.stack(
        [boxes[:, 0] + width / 2, boxes[:, 1] + height / 2, width / height, height], axis=1
    )


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """Inverse of `xyxy_to_xyah`; accepts the first 4 columns of a state too."""
    xyah = np.asarray(xyah, dtype=np.float64)
    half_height = xyah[:, 3] / 2
    half_width = xyah[:, 2] * half_height
    return np.stack(
        [
            xyah[:, 0] - half_width,
            xyah[:, 1] - half_height,
            xyah[:, 0] + half_width,
            xyah[:, 1] + half_height,
        ],
        axis=1,
    )


@dataclass(frozen=True)
class KalmanFilter:
    """Noise model of the filter; every method works on N tracks at once (N may be 0)."""

    position_std_weight: float = 1.0 / 20
    """Position noise std as a fraction of box height (DeepSORT's value). Raising it trusts
    measurements more than the motion model and widens the gate."""
    velocity_std_weight: float = 1.0 / 160
    """Velocity noise std as a fraction of box height per frame (DeepSORT's value). Raising
    it lets tracks follow acceleration and turns faster, with looser predictions."""
    std_floor_height_px: float = 20.0
    """Height below which deviations stop shrinking: 20 px x 1/20 = 1 px position std, about
    the localisation error of a stride-4 detector with offset regression. Raising it makes
    the gate more tolerant for small objects."""

    def __post_init__(self) -> None:
        for name in ("position_std_weight", "velocity_std_weight", "std_floor_height_px"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"track.motion.{name} must be > 0, got {value}")

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks at xyah `measurements` [N, 4] with zero velocity -> mean [N, 8], cov [N, 8, 8]."""
        measurements = np.asarray(measurements, dtype=np.float64)
        mean = np.concatenate([measurements, np.zeros_like(measurements)], axis=1)
        std = self._stds(measurements[:, 3], position_scale=2.0, velocity_scale=10.0)
        return mean, _diagonal(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by one frame."""
        process_var = self._stds(mean[:, 3], position_scale=1.0, velocity_scale=1.0) ** 2
        return mean @ _TRANSITION.T, _TRANSITION @ cov @ _TRANSITION.T + _diagonal(process_var)

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State distribution -> measurement distribution (xyah mean [N, 4], cov [N, 4, 4])."""
        height_std = self.position_std_weight * self._floored(mean[:, 3])
        measurement_std = np.stack(
            [height_std, height_std, np.full_like(height_std, _ASPECT_MEASUREMENT_STD), height_std],
            axis=1,
        )
        return mean[:, :MEASUREMENT_DIM], cov[:, :MEASUREMENT_DIM, :MEASUREMENT_DIM] + _diagonal(
            measurement_std**2
        )

    def update(
        self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct track i with measurement i (xyah [N, 4])."""
        projected_mean, projected_cov = self.project(mean, cov)
        # K^T = S^-1 H P, solved rather than inverted; S is symmetric.
        gain_t = np.linalg.solve(projected_cov, cov[:, :MEASUREMENT_DIM, :])  # [N, 4, 8]
        innovation = np.asarray(measurements, dtype=np.float64) - projected_mean
        new_mean = mean + np.einsum("nij,ni->nj", gain_t, innovation)
        new_cov = cov - gain_t.transpose(0, 2, 1) @ projected_cov @ gain_t
        return new_mean, new_cov

    def gating_distance(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        measurements: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Squared Mahalanobis distance of measurements (xyah [M, 4]) to tracks: [N, M], or [P]
        for `pairs` = (track rows, measurement rows).

        The full matrix expands d^T P d = z^T P z - 2 mu^T P z + mu^T P mu, so the N x M work
        is two matrix products and never an [N, M, 4] array; coordinates are centred first
        to keep the expansion's cancellation harmless.
        """
        measurements = np.asarray(measurements, dtype=np.float64).reshape(-1, MEASUREMENT_DIM)
        projected_mean, projected_cov = self.project(mean, cov)
        precision = np.linalg.inv(projected_cov)  # [N, 4, 4]
        if pairs is not None:
            rows, cols = pairs
            delta = measurements[cols] - projected_mean[rows]
            return np.einsum("pi,pij,pj->p", delta, precision[rows], delta)
        if len(mean) == 0 or len(measurements) == 0:
            return np.zeros((len(mean), len(measurements)))
        origin = measurements.mean(axis=0)
        z = measurements - origin
        mu = projected_mean - origin
        precision_mu = np.einsum("nij,nj->ni", precision, mu)
        outer_z = (z[:, :, None] * z[:, None, :]).reshape(len(z), -1)
        distance = precision.reshape(len(mu), -1) @ outer_z.T
        distance -= 2.0 * (precision_mu @ z.T)
        distance += np.einsum("ni,ni->n", precision_mu, mu)[:, None]
        return np.maximum(distance, 0.0)

    def gating_radius(self, mean: np.ndarray, cov: np.ndarray, gate: float) -> np.ndarray:
        """[N] half-width (px) of the square around each predicted centre beyond which every
        measurement centre fails the gate, to find candidates with a spatial index.

        For any covariance S, d^T S^-1 d >= dx^2 / S_xx (Cauchy-Schwarz), so |dx| above
        sqrt(gate * S_xx) alone exceeds the gate; likewise for y.
        """
        _, projected_cov = self.project(mean, cov)
        return np.sqrt(gate * np.maximum(projected_cov[:, 0, 0], projected_cov[:, 1, 1]))

    def _floored(self, height: np.ndarray) -> np.ndarray:
        return np.maximum(height, self.std_floor_height_px)

    def _stds(
        self, height: np.ndarray, *, position_scale: float, velocity_scale: float
    ) -> np.ndarray:
        """[N, 8] state deviations; initiation scales them up because velocity is unknown."""
        height = self._floored(height)
        std = np.empty((len(height), STATE_DIM))
        std[:, _POSITION_DIMS] = (position_scale * self.position_std_weight * height)[:, None]
        std[:, _POSITION_DIMS + MEASUREMENT_DIM] = (
            velocity_scale * self.velocity_std_weight * height
        )[:, None]
        std[:, _ASPECT_DIM] = _ASPECT_STD
        std[:, _ASPECT_DIM + MEASUREMENT_DIM] = _ASPECT_VELOCITY_STD
        return std


def _diagonal(values: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, D, D] diagonal matrices."""
    out = np.zeros(values.shape + values.shape[-1:])
    index = np.arange(values.shape[-1])
    out[:, index, index] = values
    return out
