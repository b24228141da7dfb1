"""``python -m analytics COMMAND``: the command line lives in :mod:`cli`.

The command line uses both the analytics and the clinic's store, so it is not part of the
``analytics`` package (which never imports the store); this file only hands over to it.
"""

from cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
