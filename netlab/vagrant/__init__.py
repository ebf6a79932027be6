"""Vagrant VMs provisioned by Ansible: a learner's ``vagrant up`` and CI that runs the labs inside one.

``vagrantfile`` renders ``vagrant/Vagrantfile.j2``; ``provision`` drives ``playbooks/provision.yml`` through
ansible-runner; ``ci`` is ``netlab vagrant ci``: box, up, provision, labs, reports, destroy -- each step with a
time limit, and nothing of netlab's left in libvirt afterwards, whatever happened.
"""

from __future__ import annotations
