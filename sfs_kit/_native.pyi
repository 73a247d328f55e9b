import numpy as np
import numpy.typing as npt

def affine_f32(
    src: npt.NDArray[np.float32],
    dst: npt.NDArray[np.float32],
    matrix: npt.NDArray[np.float64],
    translate: bool,
    /,
) -> None: ...
