"""Run a command inside a full Linux kernel (user-mode-linux, or QEMU with KVM or TCG) when the host lacks
features.

backends (what can be booted) → choice (what boots here, remembered per host boot) → guest (the script
the guest runs) → plan (the host command line) → launch (boot watchdog, output relay, exit code) → runner
(auto selection with fallback). docs/vm.md has the measured figures.
"""

from netlab.vm.backends import VmBackend
from netlab.vm.plan import VmPlan, build_plan
from netlab.vm.runner import BackendReport, check_backends, run_in_vm, vm_prerequisites

__all__ = ["BackendReport", "VmBackend", "VmPlan", "build_plan", "check_backends", "run_in_vm", "vm_prerequisites"]
