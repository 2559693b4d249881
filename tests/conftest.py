"""Shared pytest setup: keep TensorFlow's C++ logging quiet and BLAS/OpenMP from
oversubscribing small CI machines (set before TensorFlow or NumPy's BLAS start)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
