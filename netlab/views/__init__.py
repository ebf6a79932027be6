"""Views of a lab that change nothing: pure renderings of the resolved lab and its plan (``netlab graph``,
``netlab handout``, ``netlab export``).

They reach the features only through :data:`netlab.features.registry.FEATURES` and the hooks of
:mod:`netlab.features.base` (``diagram``, ``export``), like the stages do, so a new feature shows in every view
without a change here. Templates (Jinja2) live in ``templates/``, shipped inside the package.
"""
