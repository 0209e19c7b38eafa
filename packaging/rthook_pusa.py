# PyInstaller run-time hook: runs before the app's first import in the frozen Pusa Studio.
import importlib.util
import os
import sys

# The install folder is read-only territory: never write .pyc files beside collected sources.
sys.dont_write_bytecode = True

# torch.compile needs triton and a C compiler. A bundle without triton (build.spec leaves it out) runs
# eager; one with triton keeps the engine's "auto", which compiles only where a probe compile works.
# PUSA_COMPILE=1 still forces it (it then fails with torch's own message).
if importlib.util.find_spec("triton") is None:
    os.environ.setdefault("PUSA_COMPILE", "0")

# The bootloader points LD_LIBRARY_PATH at the bundle's libraries. This process has already read it
# (the dynamic loader caches it at start-up), but programs the app starts (xdg-open via
# QDesktopServices.openUrl, the file manager, ffmpeg) would inherit it and load our copies of
# libstdc++, libssl, Qt ... instead of their own. Give children the user's original value back.
if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
