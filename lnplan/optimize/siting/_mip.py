"""A thin, vectorised bridge from sparse matrices to OR-Tools' HiGHS MIP backend.

Models are assembled as ``lower <= A x <= upper`` with a scipy CSR matrix and handed to OR-Tools'
MathOpt's public API (a ``ModelProto`` built from the arrays, ``Model.from_model_proto`` and
``mathopt.solve``), so building a model with millions of nonzeros costs no Python loop per
coefficient.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.optimize.siting._model import FloatArray, SolveParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MipOutcome:
    """What the MIP solver returned."""

    status: str  # "optimal" | "feasible" | "time_limit" | "infeasible" | "no_solution"
    x: FloatArray | None
    objective: float
    bound: float
    runtime_s: float
    nodes: int = 0  # branch-and-bound nodes HiGHS processed
    lp_iterations: int = 0  # simplex iterations, all LPs of the search


def add_mip_work(details: dict[str, float] | None, out: MipOutcome) -> None:
    """Add a MIP's nodes and simplex iterations to ``details`` (the result's ``work``)."""
    if details is not None:
        details["mip_nodes"] = details.get("mip_nodes", 0.0) + out.nodes
        details["mip_lp_iterations"] = details.get("mip_lp_iterations", 0.0) + out.lp_iterations


@dataclass
class MipBuilder:
    """Collects variables and sparse row blocks, then solves with HiGHS."""

    lb: list[FloatArray]
    ub: list[FloatArray]
    obj: list[FloatArray]
    integer: list[npt.NDArray[np.bool_]]
    rows: list[sparse.csr_array]
    row_lo: list[FloatArray]
    row_hi: list[FloatArray]
    n_vars: int = 0

    @classmethod
    def new(cls) -> MipBuilder:
        return cls([], [], [], [], [], [], [])

    def add_vars(
        self,
        n: int,
        *,
        lb: float | FloatArray = 0.0,
        ub: float | FloatArray = 1.0,
        obj: float | FloatArray = 0.0,
        integer: bool = False,
    ) -> int:
        """Add ``n`` variables; return the index of the first."""
        start = self.n_vars
        self.lb.append(np.broadcast_to(np.asarray(lb, np.float64), (n,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, np.float64), (n,)).copy())
        self.obj.append(np.broadcast_to(np.asarray(obj, np.float64), (n,)).copy())
        self.integer.append(np.full(n, integer, dtype=np.bool_))
        self.n_vars += n
        return start

    def add_rows(
        self,
        rows: sparse.csr_array | sparse.coo_array,
        lo: float | FloatArray,
        hi: float | FloatArray,
    ) -> None:
        """Add the rows ``lo <= rows @ x <= hi``; ``rows`` may have fewer columns than variables."""
        r = sparse.csr_array(rows, dtype=np.float64)
        n = r.shape[0]
        self.rows.append(r)
        self.row_lo.append(np.broadcast_to(np.asarray(lo, np.float64), (n,)).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, np.float64), (n,)).copy())

    def add_row(self, cols: npt.ArrayLike, coefs: npt.ArrayLike, lo: float, hi: float) -> None:
        """Add one row given by column indices and coefficients."""
        c = np.asarray(cols, np.int64)
        v = np.broadcast_to(np.asarray(coefs, np.float64), c.shape)
        r = sparse.csr_array(
            (v, (np.zeros(c.size, np.int64), c)),
            shape=(1, max(self.n_vars, int(c.max(initial=-1)) + 1)),
        )
        self.add_rows(r, lo, hi)

    def solve(
        self,
        params: SolveParams,
        *,
        maximize: bool,
        time_limit_s: float,
        presolve: bool = True,
        objective_offset: float = 0.0,
        cutoff: float | None = None,
        deadline: float | None = None,
    ) -> MipOutcome:
        """Solve with HiGHS through OR-Tools MathOpt (model passed as a proto built from arrays).

        MathOpt rather than ``model_builder``/``pywraplp``: in OR-Tools 9.15 those two return no
        solution when HiGHS stops at the time limit, and crash (segfault) on solution hints. No
        hint is passed; callers keep their heuristic solution as the fallback incumbent and may pass
        its value as ``cutoff`` (minimisation only, HiGHS ``objective_bound``): solutions not below
        it are rejected, so ``"infeasible"`` then means "nothing better than the cutoff exists".
        ``deadline`` (a ``time.perf_counter()`` value), when given, also caps the solver's time
        limit once the model is built, so building a large model counts against it.

        The search stops on ``params.max_nodes`` branch-and-bound nodes (HiGHS ``mip_max_nodes``)
        when set: with one thread and a fixed seed HiGHS then returns the same answer on any
        machine. The time limit is the wall-clock safety cap; a stop there is ``"time_limit"``.
        """
        from ortools.math_opt import model_pb2
        from ortools.math_opt.python import mathopt
        from ortools.math_opt.python import model as mo_model
        from ortools.math_opt.solvers import highs_pb2

        start = time.perf_counter()
        n = self.n_vars
        blocks = []
        for r in self.rows:
            if r.shape[1] < n:
                r = sparse.csr_array((r.data, r.indices, r.indptr), shape=(r.shape[0], n))
            blocks.append(r)
        a = (
            sparse.vstack(blocks, format="csr")
            if blocks
            else sparse.csr_array((0, n), dtype=np.float64)
        )
        a.sum_duplicates()
        a.sort_indices()
        a.eliminate_zeros()
        integer = np.concatenate(self.integer) if self.integer else np.zeros(0, np.bool_)
        obj = np.concatenate(self.obj) if self.obj else np.zeros(0)
        model = model_pb2.ModelProto()
        var = model.variables
        var.ids.extend(range(n))
        var.lower_bounds.extend(np.concatenate(self.lb).tolist() if self.lb else [])
        var.upper_bounds.extend(np.concatenate(self.ub).tolist() if self.ub else [])
        var.integers.extend(integer.tolist())
        nz = np.flatnonzero(obj)
        model.objective.maximize = maximize
        model.objective.offset = float(objective_offset)
        model.objective.linear_coefficients.ids.extend(nz.tolist())
        model.objective.linear_coefficients.values.extend(obj[nz].tolist())
        n_rows = a.shape[0]
        cons = model.linear_constraints
        cons.ids.extend(range(n_rows))
        cons.lower_bounds.extend(np.concatenate(self.row_lo).tolist() if self.row_lo else [])
        cons.upper_bounds.extend(np.concatenate(self.row_hi).tolist() if self.row_hi else [])
        mat = model.linear_constraint_matrix
        mat.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)).tolist())
        mat.column_ids.extend(a.indices.tolist())
        mat.coefficients.extend(a.data.tolist())
        opt_model = mo_model.Model.from_model_proto(model)
        del model
        if deadline is not None:
            time_limit_s = min(time_limit_s, deadline - time.perf_counter())
        limit = max(time_limit_s, 0.05)
        highs = highs_pb2.HighsOptionsProto()
        highs.int_options["threads"] = max(params.workers, 1)
        if params.max_nodes is not None:
            # At least the root: the callers that want no MIP at all skip it (max_nodes = 0).
            highs.int_options["mip_max_nodes"] = max(int(params.max_nodes), 1)
        if cutoff is not None:
            highs.double_options["objective_bound"] = float(cutoff)
        sp = mathopt.SolveParameters(
            time_limit=datetime.timedelta(seconds=limit),
            enable_output=params.log,
            random_seed=params.seed,
            # Half the gap asked for, so that the proven gap reported stays inside it.
            relative_gap_tolerance=0.5 * max(params.rel_gap, 0.0),
            absolute_gap_tolerance=1e-9,
            presolve=None if presolve else mathopt.Emphasis.OFF,
            highs=highs,
        )
        log.debug("HiGHS: %d vars (%d integer), %d rows, %d nnz", n, integer.sum(), n_rows, a.nnz)
        try:
            res = mathopt.solve(opt_model, mathopt.SolverType.HIGHS, params=sp)
        except ValueError as exc:
            # MathOpt's Python ``Limit`` has no member for a cutoff stop (LIMIT_CUTOFF): with a
            # cutoff, that stop means that nothing beats it.
            if cutoff is not None and "Limit" in str(exc):
                return MipOutcome(
                    "infeasible", None, math.nan, math.nan, time.perf_counter() - start
                )
            raise
        runtime = time.perf_counter() - start
        stats = res.solve_stats
        work = {"nodes": int(stats.node_count), "lp_iterations": int(stats.simplex_iterations)}
        term = res.termination
        bound = float(term.objective_bounds.dual_bound)
        bound = bound if math.isfinite(bound) else math.nan
        reason = term.reason
        reasons = mathopt.TerminationReason
        if reason in (reasons.INFEASIBLE, reasons.INFEASIBLE_OR_UNBOUNDED) or (
            cutoff is not None
            and reason == reasons.NO_SOLUTION_FOUND
            and term.limit is not None
            and term.limit.name in ("CUTOFF", "OBJECTIVE")
        ):
            return MipOutcome("infeasible", None, math.nan, math.nan, runtime, **work)
        sols = [s.primal_solution for s in res.solutions if s.primal_solution is not None]
        if not sols:
            return MipOutcome("no_solution", None, math.nan, bound, runtime, **work)
        ps = sols[0]
        values = ps.variable_values
        x = np.zeros(n)
        ids = np.fromiter((v.id for v in values), np.int64, count=len(values))
        x[ids] = np.fromiter(values.values(), np.float64, count=len(values))
        value = float(ps.objective_value)
        if (
            cutoff is not None
            and reason == reasons.OPTIMAL
            and value >= cutoff - 1e-9 * max(1.0, abs(cutoff))
        ):
            # HiGHS may keep an early heuristic solution above objective_bound and call it
            # optimal once the bound has pruned the whole tree: nothing beats the cutoff.
            return MipOutcome("infeasible", None, math.nan, math.nan, runtime, **work)
        if reason == reasons.OPTIMAL:
            return MipOutcome(
                "optimal", x, value, bound if math.isfinite(bound) else value, runtime, **work
            )
        timed_out = term.limit == mathopt.Limit.TIME
        return MipOutcome(
            "time_limit" if timed_out else "feasible", x, value, bound, runtime, **work
        )
