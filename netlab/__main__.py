import sys

from netlab.cli.main import main

sys.exit(main())
