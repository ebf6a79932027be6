"""Typed models: the topology as written (:mod:`.topology`), as resolved (:mod:`.resolved`), and the
plan of kernel actions (:mod:`.plan`)."""
