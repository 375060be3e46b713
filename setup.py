"""The optional C counting kernel (segviz/_count.c); everything else is in pyproject.toml.

``optional=True``: without a C compiler the build goes on without it, and segviz counts with
numba or numpy instead (identical results, see segviz/kernels.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("segviz._count", ["segviz/_count.c"], optional=True, extra_compile_args=["-O3"])]
)
