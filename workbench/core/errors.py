"""Domain exceptions raised by the core."""


class DomainError(ValueError):
    """Base class: a rule of the evaluation domain was broken by the input."""


class InvalidTransition(DomainError):
    """An engagement was asked to move to a state that the workflow does not allow."""
