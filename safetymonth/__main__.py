"""``python -m safetymonth`` is the same as the ``safetymonth`` command."""

from safetymonth.cli import main

if __name__ == "__main__":
    main()
