"""Hands-on exercises: a lab that starts broken, a task, hints, grading that explains a wrong fix, a solution.

:mod:`.model` is the ``exercise:`` section; :mod:`.checks` its validate hook; :mod:`.grading` grades a live lab
with its probes; :mod:`.session` starts, hints, solves and resets; :mod:`.submissions` grades a directory of
student submissions; :mod:`.cli` is ``netlab exercise``.
"""
