"""netlab: Linux networking labs from YAML, built in network namespaces and proved by probes.

See :mod:`netlab.api` for the Python API (``Lab.load(...).up()``) and README.md for the CLI.
"""

from netlab.api import Lab, clean, down, exec_in, live_labs
from netlab.errors import ApplyError, InvalidInput, LabNotUp, MissingFeatures, NetlabError, NotPermitted

__all__ = ["ApplyError", "InvalidInput", "Lab", "LabNotUp", "MissingFeatures", "NetlabError", "NotPermitted",
           "clean", "down", "exec_in", "live_labs"]
__version__ = "0.1.0"
