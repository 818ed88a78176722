"""The build package's public surface, pinned: what the CLI, the bench and other components may use."""

from __future__ import annotations

from kybernetes.build import builder, errors


def public(module: object) -> list[str]:
    return sorted(n for n, v in vars(module).items()
                  if not n.startswith("_") and getattr(v, "__module__", None) == getattr(module, "__name__"))


def test_the_builder_api_is_pinned() -> None:
    assert public(builder) == [
        "BuildOptions", "BuildResult", "BuildSettings", "Builder", "ImageState", "Notice", "Progress", "Pull",
        "StepCached", "StepOutput", "StepReport", "StepStarted", "image_state", "scratch_state",
    ]


def test_the_error_tree_is_pinned() -> None:
    tree = {name: [b.__name__ for b in cls.__bases__] for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == errors.__name__}
    assert tree == {
        "BuildError": ["Exception"], "LocatedError": ["BuildError"], "DockerfileError": ["LocatedError"],
        "ContextError": ["BuildError"], "StepError": ["LocatedError"], "SourceNotFoundError": ["StepError"],
        "BaseImageError": ["StepError"], "RunError": ["StepError"],
    }
