# PyInstaller run-time hook: runs before the app's first import in the frozen Pusa Studio.
import os
import sys

# The install folder is read-only territory: never write .pyc files beside collected sources.
sys.dont_write_bytecode = True

# torch.compile needs triton and a C compiler, neither of which ships with the app: keep it off
# unless the user explicitly asks for it (it then fails with torch's own message).
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
