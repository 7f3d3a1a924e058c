"""The examples in the installed package's docstrings run and hold."""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.resources
import pkgutil

import pytest

import trailmatch

#: Every module of the package (the extension module's examples live in _core.pyi).
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(trailmatch.__path__, "trailmatch.")
    if not m.name.endswith(("__main__", "._core"))
)
#: Internal helpers without a public API of their own.
WITHOUT_EXAMPLES = {"trailmatch.rules.common"}


@pytest.mark.parametrize("module", ["trailmatch", *MODULES])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    if module not in WITHOUT_EXAMPLES:
        assert result.attempted > 0, f"{module} has no examples"
    assert result.failed == 0


def test_stub_examples() -> None:
    """The examples in _core.pyi (the documentation of the Rust classes) hold too."""
    import trailmatch

    stub = importlib.resources.files("trailmatch").joinpath("_core.pyi").read_text()
    docstrings = [
        ast.get_docstring(node)
        for node in ast.walk(ast.parse(stub))
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.Module))
    ]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    parser = doctest.DocTestParser()
    for i, text in enumerate(d for d in docstrings if d):
        runner.run(parser.get_doctest(text, {"trailmatch": trailmatch}, f"_core.pyi#{i}", None, 0))
    summary = runner.summarize(verbose=False)
    assert summary.attempted > 0
    assert summary.failed == 0
