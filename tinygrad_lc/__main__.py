import sys

from tinygrad_lc.cli.program import main

sys.exit(main())
