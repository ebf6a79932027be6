"""The ``netlab`` command line (argparse: every verb gets ``--help``; rich for human output)."""
