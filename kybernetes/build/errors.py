"""Build errors: what parsing a Dockerfile or building an image can fail with.

    BuildError                      anything the build package raises on purpose
    ├── ContextError                the build context or its .dockerignore cannot be used
    └── LocatedError                str() is `file:line: message`
        ├── DockerfileError         the Dockerfile does not parse (unknown instruction, bad flag)
        └── StepError               an instruction failed while building; nothing was tagged
            ├── SourceNotFoundError a COPY/ADD source missing from the context (or excluded by .dockerignore)
            ├── BaseImageError      the FROM (or COPY --from) image is neither local nor pullable
            └── RunError            a RUN exited non-zero; .exit_code and .output say how

The helpers raise plain BuildErrors of their own (`shell.SubstitutionError`, `copier.CopyError`,
`metadata.InstructionError`, `runner.MountError`); the builder reports each as a StepError naming
the instruction's first line, as `Dockerfile:7: COPY: ...`, so the message alone locates the problem.
"""

from __future__ import annotations


class BuildError(Exception):
    """BuildError is the root of every error the build package raises on purpose."""


class LocatedError(BuildError):
    """LocatedError is an error tied to a line of the Dockerfile; str() is `file:line: message`."""

    def __init__(self, message: str, *, file: str = "Dockerfile", line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class DockerfileError(LocatedError):
    """DockerfileError: the Dockerfile does not parse, or an instruction's arguments are malformed."""


class ContextError(BuildError):
    """ContextError: the build context is missing, or its .dockerignore has a bad pattern."""


class StepError(LocatedError):
    """StepError: an instruction failed while the image was being built."""


class SourceNotFoundError(StepError):
    """SourceNotFoundError: a COPY/ADD source is not in the context (or .dockerignore excludes it)."""


class BaseImageError(StepError):
    """BaseImageError: the image FROM (or COPY --from) names is not in the store and could not be pulled."""


class RunError(StepError):
    """RunError: a RUN step's command exited non-zero; `output` is what it printed (its tail, if long)."""

    def __init__(self, message: str, *, file: str = "Dockerfile", line: int = 0, exit_code: int = 1, output: bytes = b"") -> None:
        super().__init__(message, file=file, line=line)
        self.exit_code = exit_code
        self.output = output
