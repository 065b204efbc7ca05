"""The sweep behind ``tracker.hyperopt.fmin``: the parent run, the search space, trial runs.

``fmin`` (``tracker/hyperopt/__init__.py``) runs hyperopt with ``_Sweep.evaluate`` as the
objective; ``tracker.hyperopt.spark`` reuses the parent run, the params and the outcomes here
for trials that run on Spark executors. hyperopt is imported on first use.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker import api
from tracker.context import PARENT_RUN_ID
from tracker.entities import RunStatus
from tracker.exceptions import ImmutableParamError, InvalidArgumentError
from tracker.progress import Ticker
from tracker.validation import MAX_TAG_VALUE_LENGTH

if TYPE_CHECKING:
    from tracker.client import TrackerClient

log = logging.getLogger("tracker")

SEARCH_SPACE_FILE = "search_space.json"
STATUS_OK = "ok"
STATUS_FAIL = "fail"

# Argument names of hyperopt's distributions, for search_space.json.
_ARG_NAMES: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
    "randint": ("low", "high"),
}
_CONTAINERS = ("dict", "pos_args", "switch")


def _hyperopt() -> Any:
    try:
        import hyperopt
    except ImportError:
        raise InvalidArgumentError(
            "tracker.hyperopt needs the hyperopt package: pip install hyperopt."
        ) from None
    return hyperopt


# -- fmin -------------------------------------------------------------------------------------


def _start(
    fn: Callable[..., Any], space: Any, algo: Any, max_evals: int | None,
    pass_expr_memo_ctrl: bool | None, run_name: str | None,
) -> tuple[_Sweep, bool]:
    """Open the parent run and log the setup; whether this sweep started the parent."""
    from tracker.client import TrackerClient

    fn, space = _annotated(fn, space)
    if pass_expr_memo_ctrl is None:
        pass_expr_memo_ctrl = bool(getattr(fn, "fmin_pass_expr_memo_ctrl", False))
    algo_name = _algo_name(algo)
    sweep_space = _Space(space)  # before the parent: a space hyperopt cannot read fails here
    parent, owned = _open_parent(run_name, algo_name)
    sweep = _Sweep(TrackerClient(), parent, sweep_space, fn, pass_expr_memo_ctrl)
    try:
        sweep.log_setup(algo_name, max_evals)
    except BaseException:
        if owned:
            api.end_run(RunStatus.FAILED)
        raise
    return sweep, owned


def _annotated(fn: Callable[..., Any], space: Any) -> tuple[Callable[..., Any], Any]:
    """hyperopt's ``space="annotated"``: the space from ``fn``'s annotations, ``fn(**point)``."""
    if not (isinstance(space, str) and space == "annotated"):
        return fn, space
    from hyperopt.pyll import Apply

    try:  # string annotations too (``from __future__ import annotations``)
        annotated = dict(inspect.get_annotations(fn, eval_str=True))
    except Exception:  # noqa: BLE001 - a name the annotation uses is not a global of fn
        annotated = dict(inspect.getfullargspec(fn).annotations)
    annotated.pop("return", None)
    bad = sorted(k for k, v in annotated.items() if not isinstance(v, Apply))
    if bad:
        raise InvalidArgumentError(
            f"space='annotated' needs every argument of {fn.__name__} annotated with an hp "
            f"expression (e.g. x: hp.uniform('x', 0, 1)); not annotated so: {bad}."
        )

    def call(point: dict[str, Any]) -> Any:
        return fn(**point)

    return call, annotated


def _algo_name(algo: Any) -> str:
    """``tpe`` for ``tpe.suggest`` (also through ``functools.partial``), else the function name."""
    if algo is None:
        return "tpe"  # hyperopt's default
    while hasattr(algo, "func") and not hasattr(algo, "__name__"):  # functools.partial
        algo = algo.func
    name = str(getattr(algo, "__name__", type(algo).__name__))
    module = str(getattr(algo, "__module__", "") or "")
    if name == "suggest" and module:
        return module.rsplit(".", 1)[-1]
    return name


def _open_parent(run_name: str | None, algo_name: str) -> tuple[api.ActiveRun, bool]:
    """The parent run, and whether this sweep started it (and so ends it)."""
    active = api.active_run()
    if active is not None and run_name is None:
        return active, False
    run = api.start_run(run_name=run_name or f"sweep-{algo_name}", nested=active is not None)
    return run, True


# -- the search space -------------------------------------------------------------------------


class _Space:
    """A search space: its pyll expression and each hp label's decoding node."""

    def __init__(self, space: Any) -> None:
        from hyperopt.pyll import as_apply

        self.source = space
        self.expr = as_apply(space)
        self.nodes = _hyperparameter_nodes(self.expr)

    def decode(self, assignment: dict[str, Any]) -> dict[str, Any]:
        """The value the objective saw for each sampled label (``scope.int`` → int, choice → option)."""
        from hyperopt import space_eval

        decoded: dict[str, Any] = {}
        for label, node in self.nodes.items():
            if label not in assignment:
                continue  # a label of a branch hp.choice did not take
            try:
                decoded[label] = space_eval(node, assignment)
            except Exception:  # noqa: BLE001 - an exotic space: keep the raw sampled value
                decoded[label] = assignment[label]
        return decoded

    def describe(self) -> dict[str, Any]:
        return {
            "space": _structure(self.expr),
            "hyperparameters": {label: _describe_hp(n) for label, n in self.nodes.items()},
        }


def describe_space(space: Any) -> dict[str, Any]:
    """What ``fmin`` saves as ``search_space.json``: a readable, JSON-able search space.

    ``space`` is the space's structure with each hp expression written as the code that makes
    it (``"scope.int(hp.quniform('max_depth', 4, 100, 1))"``) and constants as JSON values;
    ``hyperparameters`` maps each label to its ``expression``, ``distribution`` and arguments
    (``low``, ``high``, ``q``, ``mu``, ``sigma``…), or for ``hp.choice``/``hp.pchoice`` its
    ``options`` (and ``probabilities``).

    Args:
        space: a hyperopt search space (dict, list, or one hp expression).
    """
    return _Space(space).describe()


def _hyperparameter_nodes(expr: Any) -> dict[str, Any]:
    """Each label's decoding node: its ``hyperopt_param`` under the wrappers the objective sees."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def visit(node: Any, path: list[Any]) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if node.name == "hyperopt_param":
            found.setdefault(str(node.pos_args[0].obj), _decoding_node(node, path))
        for child in node.inputs():
            visit(child, [*path, node])

    visit(expr, [])
    return found


def _decoding_node(param: Any, path: list[Any]) -> Any:
    """Climb from a ``hyperopt_param`` through one-argument wrappers (``float``, ``scope.int``)
    and the ``switch`` of an ``hp.choice`` it indexes."""
    node = param
    for parent in reversed(path):
        first = parent.pos_args[0] if parent.pos_args else None
        indexes = parent.name == "switch" and first is node
        wraps = parent.name not in _CONTAINERS and len(parent.inputs()) == 1
        if not (indexes or wraps):
            break
        node = parent
    return node


def _describe_hp(node: Any) -> dict[str, Any]:
    """One label's entry in ``search_space.json``."""
    chain = [node]
    while chain[-1].name != "hyperopt_param":
        chain.append(chain[-1].pos_args[0])
    dist = chain[-1].pos_args[1]
    entry: dict[str, Any] = {"expression": _render(node)}
    switch = next((n for n in chain if n.name == "switch"), None)
    if switch is None:
        entry["distribution"] = dist.name
        entry.update(_dist_args(dist))
        return entry
    weighted = dist.name == "categorical" and dist.pos_args[0].name == "pos_args"
    entry["distribution"] = "pchoice" if weighted else "choice"
    entry["options"] = [_structure(option) for option in switch.pos_args[1:]]
    if weighted:
        entry["probabilities"] = _structure(dist.pos_args[0])
    return entry


def _dist_args(dist: Any) -> dict[str, Any]:
    values = [_structure(arg) for arg in dist.pos_args]
    names = _ARG_NAMES.get(dist.name, ())
    if dist.name == "randint" and len(values) == 1:
        names = ("upper",)
    args = {names[i] if i < len(names) else f"arg{i}": v for i, v in enumerate(values)}
    args.update({str(k): _structure(v) for k, v in dist.named_args})
    return args


def _structure(node: Any) -> Any:
    """Dicts and lists as JSON, constants as values, hp expressions as readable code."""
    if node.name == "dict":
        return {str(k): _structure(v) for k, v in node.named_args}
    if node.name == "pos_args":
        return [_structure(arg) for arg in node.pos_args]
    if node.name == "literal":
        value = _plain(node.obj)
        if value is None or isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        return repr(value)
    return _render(node)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds; anything else unchanged."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _render(node: Any) -> str:
    """A pyll node as the code that builds it: ``hp.loguniform('lr', -3, 0)``, ``scope.int(…)``."""
    name = node.name
    if name == "literal":
        return repr(_plain(node.obj))
    if name == "dict":
        return "{" + ", ".join(f"{k!r}: {_render(v)}" for k, v in node.named_args) + "}"
    if name == "pos_args":
        return "[" + ", ".join(_render(arg) for arg in node.pos_args) + "]"
    first = node.pos_args[0] if node.pos_args else None
    if name == "hyperopt_param":
        return _render_param(node)
    if name == "switch" and first is not None and first.name == "hyperopt_param":
        return _render_choice(node)
    # hp.uniform & co. are float(...) of their param, hp.randint is int(...) of it
    if first is not None and first.name == "hyperopt_param" and (
        name == "float" or (name == "int" and first.pos_args[1].name == "randint")
    ):
        return _render_param(first)
    args = [_render(a) for a in node.pos_args] + [f"{k}={_render(v)}" for k, v in node.named_args]
    return f"scope.{name}({', '.join(args)})"


def _render_param(param: Any) -> str:
    label, dist = param.pos_args[0].obj, param.pos_args[1]
    args = [repr(label), *(_render(a) for a in dist.pos_args)]
    args += [f"{k}={_render(v)}" for k, v in dist.named_args]
    return f"hp.{dist.name}({', '.join(args)})"


def _render_choice(switch: Any) -> str:
    param = switch.pos_args[0]
    label, dist = param.pos_args[0].obj, param.pos_args[1]
    options = [_render(option) for option in switch.pos_args[1:]]
    if dist.name == "categorical" and dist.pos_args[0].name == "pos_args":
        weights = [_render(p) for p in dist.pos_args[0].pos_args]
        pairs = ", ".join(f"({p}, {o})" for p, o in zip(weights, options))
        return f"hp.pchoice({label!r}, [{pairs}])"
    return f"hp.choice({label!r}, [{', '.join(options)}])"


# -- trials -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """How a trial ended: ``ok`` with a loss, or ``fail`` with a message."""

    status: str
    loss: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Trial:
    number: int
    run_id: str
    outcome: _Outcome
    params: dict[str, Any]


class _TrialRuns(list[Any]):
    """The fluent run stack while the objective runs: empty at first, and the first run the
    objective starts becomes the trial run (nested under the parent); later ones nest under it."""

    def __init__(self, client: TrackerClient, parent_id: str, number: int) -> None:
        super().__init__()
        self.client = client
        self.parent_id = parent_id
        self.number = number
        self.trial_run_id: str | None = None

    def append(self, run: Any) -> None:
        super().append(run)
        run_id = str(run.info.run_id)
        if self.trial_run_id is None:
            self.trial_run_id = run_id
            self.client.set_tag(run_id, PARENT_RUN_ID, self.parent_id)
            self.client.set_tag(run_id, "trial_number", self.number)
        elif PARENT_RUN_ID not in run.data.tags:
            self.client.set_tag(run_id, PARENT_RUN_ID, self.trial_run_id)


def _close(runs: _TrialRuns, saved: list[Any], status: str) -> None:
    """End the runs the objective left active (e.g. an implicit run), restore the fluent stack."""
    try:
        while runs:
            api.end_run(status)
    finally:
        api._state.stack = saved


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, (str, bytes, bool)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _outcome(result: Any) -> _Outcome:
    """The trial's status and loss from what the objective returned (as hyperopt reads it)."""
    if not isinstance(result, dict):
        loss = _number(result)
        if loss is None:
            return _Outcome(STATUS_FAIL, error=f"the objective returned {result!r}, not a loss")
        return _Outcome(STATUS_OK, loss)
    status, loss = result.get("status"), _number(result.get("loss"))
    if status == STATUS_OK and loss is not None:
        return _Outcome(STATUS_OK, loss)
    if status == STATUS_OK:
        return _Outcome(STATUS_FAIL, error=f"status 'ok' without a numeric loss: {result!r}")
    detail = result.get("error") or result.get("failure") or result.get("exception")
    message = f"the objective returned status {status!r}" + (f": {detail}" if detail else "")
    return _Outcome(STATUS_FAIL, error=message)


def _log_params(client: TrackerClient, run_id: str, params: dict[str, Any], level: int) -> None:
    """Log params one by one; a refused one (already set differently, too long) is only logged."""
    for key, value in params.items():
        try:
            client.log_param(run_id, key, value)
        except InvalidArgumentError as exc:
            quiet = isinstance(exc, ImmutableParamError)
            log.log(logging.DEBUG if quiet else level, "tracker.hyperopt: %s", exc)


class _Sweep:
    """One ``fmin`` call: the parent run, the space, the objective and the trials so far."""

    def __init__(
        self, client: TrackerClient, parent: api.ActiveRun, space: _Space,
        fn: Callable[..., Any], fn_takes_ctrl: bool,
    ) -> None:
        self.client = client
        self.parent_id = str(parent.info.run_id)
        self.experiment_id = str(parent.info.experiment_id)
        self.space = space
        self.fn = fn
        self.fn_takes_ctrl = fn_takes_ctrl
        self.trials: list[_Trial] = []
        self.ticker: Ticker | None = None

    def log_setup(self, algo_name: str, max_evals: int | None) -> None:
        """The parent's tags, params and ``search_space.json``."""
        self.client.set_tag(self.parent_id, "sweep", "hyperopt")
        self.client.set_tag(self.parent_id, "algo", algo_name)
        params: dict[str, Any] = {"algo": algo_name}
        if max_evals is not None:
            params["max_evals"] = max_evals
        _log_params(self.client, self.parent_id, params, logging.WARNING)
        self.client.log_dict(self.parent_id, self.space.describe(), SEARCH_SPACE_FILE)

    def evaluate(self, expr: Any, memo: Any, ctrl: Any) -> Any:
        """hyperopt's objective (with ``pass_expr_memo_ctrl``): run ``fn`` as one trial."""
        from hyperopt.base import spec_from_misc

        trial = ctrl.current_trial or {}
        number = int(trial.get("tid", len(self.trials)))
        params = self.space.decode(spec_from_misc(trial["misc"]) if "misc" in trial else {})
        started = int(time.time() * 1000)
        runs = _TrialRuns(self.client, self.parent_id, number)
        saved, api._state.stack = api._state.stack, runs
        try:
            result = self._call(expr, memo, ctrl)
        except Exception as exc:
            _close(runs, saved, RunStatus.FAILED)
            self._record(number, params, started, runs, _Outcome(
                STATUS_FAIL, error=f"{type(exc).__name__}: {exc}"))
            raise
        except BaseException:
            _close(runs, saved, RunStatus.KILLED)
            raise
        _close(runs, saved, RunStatus.FINISHED)
        self._record(number, params, started, runs, _outcome(result))
        return result

    def _call(self, expr: Any, memo: Any, ctrl: Any) -> Any:
        if self.fn_takes_ctrl:
            return self.fn(expr=expr, memo=memo, ctrl=ctrl)
        from hyperopt import pyll

        return self.fn(pyll.rec_eval(expr, memo=memo, print_node_on_error=False))

    def _record(
        self, number: int, params: dict[str, Any], started: int, runs: _TrialRuns,
        outcome: _Outcome,
    ) -> None:
        """Write the trial's params, tags, loss and status (on a new run if fn started none)."""
        client = self.client
        run_id = runs.trial_run_id
        created = run_id is None
        if run_id is None:
            run = client.create_run(
                self.experiment_id, start_time=started, run_name=f"trial-{number}",
                tags={"trial_number": number}, parent_run_id=self.parent_id,
            )
            run_id = str(run.info.run_id)
        _log_params(client, run_id, params, logging.WARNING)
        client.set_tag(run_id, "trial_status", outcome.status)
        if outcome.error is not None:
            client.set_tag(run_id, "error", outcome.error[:MAX_TAG_VALUE_LENGTH])
        if created or outcome.status == STATUS_FAIL:
            if outcome.loss is not None:
                client.log_metric(run_id, "loss", outcome.loss)
            ok = outcome.status == STATUS_OK
            client.set_terminated(run_id, RunStatus.FINISHED if ok else RunStatus.FAILED)
        elif outcome.loss is not None:
            # the objective already ended its run: publish what was added now
            client.log_metric(run_id, "loss", outcome.loss, synchronous=True)
        self.trials.append(_Trial(number, run_id, outcome, params))
        self.tick()

    def tick(self, *, final: bool = False) -> None:
        """A summary line for a log instead of the progress bar (when ``ticker`` is set)."""
        if self.ticker is None:
            return
        ok = [t for t in self.trials if t.outcome.status == STATUS_OK
              and t.outcome.loss is not None and not math.isnan(t.outcome.loss)]
        best = min(ok, key=lambda t: t.outcome.loss or 0.0, default=None)
        failed = f", {len(self.trials) - len(ok)} failed" if len(ok) < len(self.trials) else ""
        lowest = f", best loss {best.outcome.loss:.6g} (trial {best.number})" if best else ""
        self.ticker.update(f"{len(self.trials)}/{self.ticker.total or '?'} trials{failed}{lowest}, "
                           f"{self.ticker.elapsed():.0f} s{' (done)' if final else ''}",
                           final=final)

    def log_summary(self) -> None:
        """The parent's ``n_trials``/``n_failed`` and the best trial (``best_*``)."""
        client, parent = self.client, self.parent_id
        failed = sum(t.outcome.status != STATUS_OK for t in self.trials)
        client.log_metric(parent, "n_trials", len(self.trials))
        client.log_metric(parent, "n_failed", failed)
        finished = [t for t in self.trials if t.outcome.loss is not None
                    and t.outcome.status == STATUS_OK and not math.isnan(t.outcome.loss)]
        if not finished:
            return
        best = min(finished, key=lambda t: t.outcome.loss or 0.0)  # the first of equal losses
        client.log_metric(parent, "best_loss", best.outcome.loss or 0.0)
        client.set_tag(parent, "best_trial_run_id", best.run_id)
        best_params = {f"best_{key}": value for key, value in best.params.items()}
        _log_params(client, parent, best_params, logging.WARNING)
