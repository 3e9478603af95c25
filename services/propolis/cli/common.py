"""Parts shared by the image commands (``propolis scan``, ``propolis risk``): one-line errors, the
policy bundle loaded once and decided in-process, and an image (or SBOM) opened and catalogued."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from propolis.policy.domain.decision import Decision
    from propolis.scanner.catalogue import Catalogue

err = Console(stderr=True)

#: These commands produce their input instead of receiving it from a client, and a large image can have
#: thousands of findings: the service-side limit of 1 MiB would refuse it, so the CLI allows this much.
CLI_INPUT_MAX_BYTES = 64 * 1024 * 1024


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit ``code`` (2: bad input), never a traceback."""
    err.print(f"propolis: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class PolicyGate:
    """Decision points of one policy bundle, loaded and compiled once (before any image is read, so a
    broken bundle fails fast) and evaluated in-process.

    Decisions go through :class:`DecisionPoints`, so the bundle's declared ``on_undefined``/``on_error``
    fallbacks apply and each decision carries the revision of the bundle that made it. ``points`` maps
    each decision point name to the path asked when the bundle does not declare it (then it fails closed).
    """

    def __init__(self, points: dict[str, str], bundle: str = "", ref: str = "", subdir: str = "") -> None:
        from propolis.kernel.config import load_config
        from propolis.policy.adapters.regorus_engine import RegorusEngine
        from propolis.policy.adapters.sources import source_for
        from propolis.policy.domain.decision import DecisionPoints, InputLimits, parse_decision_points

        cfg = load_config()
        if not bundle:
            bundle, ref, subdir = cfg.policy.bundle, ref or cfg.policy.ref, subdir or cfg.policy.subdir
        b = source_for(bundle, ref=ref, subdir=subdir, data_dir=Path(cfg.data_dir)).fetch()
        declared = parse_decision_points((b.data.get("propolis") or {}).get("decision_points"))
        self.paths = {name: declared[name].path if name in declared else default for name, default in points.items()}
        self.revision = b.revision
        compiled = RegorusEngine().compile(b, sorted(set(self.paths.values())))

        class _Eval:
            mode = "embedded"
            revision = b.revision

            def evaluate(self, path: str, text: str) -> tuple[object, str]:
                return compiled.evaluate(path, text), b.revision

        limits = InputLimits(max_bytes=CLI_INPUT_MAX_BYTES, max_depth=cfg.policy.max_input_depth)
        self._points = DecisionPoints(_Eval(), lambda: declared, limits)

    def decide(self, name: str, payload: dict[str, Any]) -> Decision:
        """The decision of point ``name`` on ``payload``."""
        import msgspec

        return self._points.decide(self.paths[name], msgspec.json.encode(payload))


def catalogue_input(image: str, platform: str = "") -> Catalogue:
    """The catalogue of ``image`` (an SBOM file is read, anything else opened and catalogued with a
    progress bar on stderr); an unreadable image exits 2 with its one-line reason."""
    from rich.progress import BarColumn, Progress, TextColumn

    from propolis.cli.main import _sbom_input
    from propolis.scanner.adapters.sources import open_image
    from propolis.scanner.catalogue import catalogue_image
    from propolis.scanner.domain.image import ImageError

    cat = _sbom_input(image)
    if cat is not None:
        return cat
    try:
        img = open_image(image, platform=platform)
    except ImageError as exc:
        fail(str(exc))
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=err, transient=True) as bar:
        task = bar.add_task("reading layers", total=len(img.layers))
        return catalogue_image(img, progress=lambda i, n, li: bar.update(
            task, completed=i + 1, description=f"layer {li.digest[:19]}"))
