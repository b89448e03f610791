"""Points OpenBLAS, the BLAS under numpy and Debian's PyTorch, at its best kernels.

Import it before numpy or torch. OpenBLAS picks its kernels by the CPU's
model number when it loads. A CPU newer than the build (Debian 12's 0.3.21
on an Intel Xeon of model 207, Emerald Rapids) falls back to the Prescott
kernels, SSE3 only: a peer timed that way runs at a fraction of its speed.
On a CPU with AVX-512F this sets OPENBLAS_CORETYPE to the kernels OpenBLAS
picks itself on the AVX-512 CPUs it knows (Cooperlake with AVX512-BF16,
else SkylakeX), and drops a machine's OPENBLAS_L2_SIZE: a benchmark runs
the library as it tunes itself. Then it loads numpy, whose BLAS Debian's
PyTorch shares, and stops the benchmark when that is not OpenBLAS (Debian's
numpy is content with the reference libblas3, orders of magnitude slower).
`describe()` says what was loaded, for the report.
"""
import os


def _flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


_FLAGS = _flags()
os.environ.pop("OPENBLAS_L2_SIZE", None)
if "avx512f" in _FLAGS:
    os.environ["OPENBLAS_CORETYPE"] = "Cooperlake" if "avx512_bf16" in _FLAGS else "SkylakeX"
else:
    os.environ.pop("OPENBLAS_CORETYPE", None)

import numpy  # noqa: E402,F401  (loads the BLAS, after the settings above)
from threadpoolctl import threadpool_info  # noqa: E402

if not any(i["internal_api"] == "openblas" for i in threadpool_info()):
    raise SystemExit("bench: numpy's BLAS is not OpenBLAS, so the peers would be timed far below their best; "
                     "apt-get install -y --no-install-recommends libopenblas0-pthread")


def describe():
    """The BLAS libraries loaded so far and their kernels, as one line."""
    libs = [f"{i['internal_api']} {i.get('version') or ''} ({i.get('architecture') or '?'} kernels)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(libs) or "no BLAS seen by threadpoolctl"
