"""`python -m elicit ...` runs the CLI (and `accelerate launch -m elicit train ...` with it)."""

import sys

from elicit.cli.main import main

sys.exit(main())
