"""`spartacus demo`: a thin entry to the demo, which lives on the hub's side (`oracle.demo`).

The demo runs real hubs, so it imports `oracle` (and FastAPI); `client` never does. The hub
package registers the demo in the entry-point group `spartacus.demo` (pyproject.toml), and this
module loads it from there, as `client.cli` loads the hub's commands. `make demo` runs
`python -m oracle.demo` directly."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from client.errors import ClientError

__all__ = ["DEMO_GROUP", "DemoUnavailable", "load_demo", "run_demo", "main"]

#: The entry-point group the hub package registers its demo in (name "story").
DEMO_GROUP = "spartacus.demo"


class DemoUnavailable(ClientError, LookupError):
    """Raised when no installed package registers the demo (the hub package is not installed)."""


def load_demo(eps: list[EntryPoint] | None = None) -> Any:  # noqa: ANN401 - the registered callable
    """The demo's `run_demo` as registered under `spartacus.demo` / "story"."""
    for ep in entry_points(group=DEMO_GROUP) if eps is None else eps:
        if ep.name == "story":
            return ep.load()
    raise DemoUnavailable(f"no package registers the demo in the entry-point group {DEMO_GROUP!r}: install the "
                          "hub with `pip install -e .` (or run `make demo`, which runs `python -m oracle.demo`)")


def run_demo(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - oracle.demo.DemoResult
    """Run the registered demo (`oracle.demo.run_demo`) with the given arguments."""
    return load_demo()(*args, **kwargs)


def main() -> None:
    """Entry point of `python -m client.demo`."""
    run_demo()


if __name__ == "__main__":
    main()
