"""A LightGBM model for scoring only, through the library's C API: loads in milliseconds.

`import lightgbm` costs more than the whole analysis of a small document (its compat module imports
scikit-learn, SciPy and pandas when they are installed), and scoring needs four C calls of the same
`lib_lightgbm.so`: load a model text, count its features, feature importance, predict. So the scan
path loads the shared library that the lightgbm package ships with ctypes, without importing the
package; training keeps the real `lightgbm.Booster`. Both expose the same small interface to
`maldoc.model.ModelBundle`. The library's own prediction code runs either way: scores are the same.
"""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import numpy as np

_PREDICT_NORMAL, _PREDICT_RAW, _PREDICT_CONTRIB = 0, 1, 3
_DTYPE_FLOAT64 = 1
_LIB: ctypes.CDLL | None = None


class LightGBMError(RuntimeError):
    pass


def _library() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        spec = importlib.util.find_spec("lightgbm")  # locates the package without running it
        if spec is None or not spec.submodule_search_locations:
            raise LightGBMError("the lightgbm package is not installed")
        folder = Path(next(iter(spec.submodule_search_locations)))
        candidates = [folder / "lib" / name for name in ("lib_lightgbm.so", "lib_lightgbm.dylib", "lib_lightgbm.dll")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise LightGBMError(f"{folder}: no lib_lightgbm shared library")
        lib = ctypes.cdll.LoadLibrary(str(path))
        lib.LGBM_GetLastError.restype = ctypes.c_char_p
        _LIB = lib
    return _LIB


def _check(code: int) -> None:
    if code != 0:
        message = _library().LGBM_GetLastError()
        raise LightGBMError(message.decode(errors="replace") if message else "LightGBM call failed")


class FastBooster:
    """The scoring half of `lightgbm.Booster`: predict (plain, raw, contributions), importance, size."""

    def __init__(self, model_text: str) -> None:
        lib = _library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        _check(lib.LGBM_BoosterLoadModelFromString(ctypes.c_char_p(model_text.encode()), ctypes.byref(iterations),
                                                   ctypes.byref(self._handle)))
        n = ctypes.c_int(0)
        _check(lib.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(n)))
        self._features = n.value

    def num_feature(self) -> int:
        return self._features

    def feature_importance(self, importance_type: str = "split") -> np.ndarray:
        out = np.zeros(self._features, dtype=np.float64)
        kind = 0 if importance_type == "split" else 1
        _check(_library().LGBM_BoosterFeatureImportance(self._handle, ctypes.c_int(-1), ctypes.c_int(kind),
                                                        out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        return out.astype(np.int64) if kind == 0 else out

    def predict(self, rows: np.ndarray, *, raw_score: bool = False, pred_contrib: bool = False,
                num_threads: int = 1) -> np.ndarray:
        data = np.ascontiguousarray(rows, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != self._features:
            raise LightGBMError(f"rows of {data.shape[-1]} features, the model has {self._features}")
        kind = _PREDICT_CONTRIB if pred_contrib else _PREDICT_RAW if raw_score else _PREDICT_NORMAL
        width = self._features + 1 if pred_contrib else 1
        out = np.zeros(data.shape[0] * width, dtype=np.float64)
        written = ctypes.c_int64(0)
        _check(_library().LGBM_BoosterPredictForMat(
            self._handle, data.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(_DTYPE_FLOAT64),
            ctypes.c_int32(data.shape[0]), ctypes.c_int32(data.shape[1]), ctypes.c_int(1), ctypes.c_int(kind),
            ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_char_p(f"num_threads={int(num_threads)}".encode()),
            ctypes.byref(written), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        return out.reshape(data.shape[0], width) if pred_contrib else out

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle and _LIB is not None:
            _LIB.LGBM_BoosterFree(handle)
