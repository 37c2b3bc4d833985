"""`Solver`: one name per linear solver, read from a `Solver` or its name, refused otherwise."""

from __future__ import annotations

import pytest

from pricing import SpecError
from pricing.numerics.solver import Solver


@pytest.mark.parametrize("solver", list(Solver))
def test_a_solver_and_its_name_parse_to_the_same_member(solver):
    assert Solver.parse(solver) is solver and Solver.parse(solver.value) is solver
    assert solver == solver.value  # a str enum: "cg" and Solver.CG compare equal


@pytest.mark.parametrize("bad", ["Cg", "newton", 1.0, None, ["cg"]])
def test_parse_names_the_bad_value_and_every_choice(bad):
    with pytest.raises(SpecError, match=r"solver .* is not one of exact, cg, lissa$"):
        Solver.parse(bad)


def test_parse_refuses_a_solver_outside_the_allowed_ones():
    assert Solver.parse("cg", allowed=(Solver.EXACT, Solver.CG)) is Solver.CG
    with pytest.raises(SpecError, match=r"^hyper\.solver 'lissa' is not one of exact, cg$"):
        Solver.parse("lissa", allowed=(Solver.EXACT, Solver.CG), what="hyper.solver")
