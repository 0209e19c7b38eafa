"""The desktop's Qt-free core: the project and its timeline, jobs, persistence, crash recovery and the
rules the widgets apply (where a drop lands, clip checks, what blocks Generate). No PySide6 here (an
import-linter contract); the widgets in the package above wrap it.
"""
