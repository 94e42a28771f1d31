import sys

from tinygrad_lc.cli.main import main

sys.exit(main())
