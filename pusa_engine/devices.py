"""Device plans: the names the engine imports, now in the `plans` package (one class per kind).

Kept so `from pusa_engine.devices import ...` goes on working; new code imports `pusa_engine.plans`.
"""

from .plans import *  # noqa: F403
from .plans import __all__  # noqa: F401
