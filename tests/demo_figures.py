"""Once the demo's one figure that differed between places, settled for the tests that take a
report through review and issue.

Before issue #14 the demo printed 可持续影响 (D13) as 3.33 in the expert table (the panel mean
3.333…) and as 3.34 in the score table and its paragraph (apportioned printed parts), which the
report QA blocks (check ``same``). The report now prints every figure from the one evaluated
result (official scores rounded half-up, sums of official scores): D13 is 3.33 everywhere and
the demo as loaded has no blocking problem, so there is nothing left to settle. Kept (doing
nothing) for the tests that still call it.
"""


def settle_demo_figures(session, *, commit: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Nothing to settle any more (see the module's docstring)."""
    if commit:
        session.commit()
    else:
        session.flush()
