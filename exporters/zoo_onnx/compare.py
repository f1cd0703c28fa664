"""zoo's one comparison rule, ``zoo.api.compare``, under the name the exporter's modules use.

This module *is* that one (it replaces itself in ``sys.modules``), so there is one rule and one
set of tolerances: a test that tightens ``zoo_onnx.compare.FP32_TOLERANCE`` tightens zoo's.
"""

from __future__ import annotations

import sys

from zoo.api import compare

sys.modules[__name__] = compare
