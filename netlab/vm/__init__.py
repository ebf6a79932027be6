"""Run a command inside a full Linux kernel (user-mode-linux or virtme-ng/QEMU) when the host lacks features.

See netlab.vm.runner for how, and docs/vm.md for the measured figures behind the default backend.
"""

from netlab.vm.runner import VmBackend, VmPlan, build_plan, choose_backend, run_in_vm, vm_prerequisites

__all__ = ["VmBackend", "VmPlan", "build_plan", "choose_backend", "run_in_vm", "vm_prerequisites"]
