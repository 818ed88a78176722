"""Entry point: `kyb` and `python -m kybernetes` dispatch to the command line."""

from kybernetes.cli.main import main

if __name__ == "__main__":
    main()
