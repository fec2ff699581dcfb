"""The one loader of an engagement's evaluated result (see ``docs/architecture.md``).

:func:`result_of` gathers the inputs of :func:`workbench.core.evaluation.evaluate` from the
database once per engagement and caches the result per engagement, keyed by the engagement's
data revision (:mod:`workbench.engagements.revision`). Every page, Excel export, report,
portfolio row and archive file reads this one object.
"""

from workbench.evaluation.loader import clear_cache, load_inputs, result_of

__all__ = ["clear_cache", "load_inputs", "result_of"]
