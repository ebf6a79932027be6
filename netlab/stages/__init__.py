"""The pipeline, one module per stage: load → validate → resolve → plan → apply → record.

Each stage takes the previous stage's frozen output and returns its own, so every stage can be
tested (and golden-filed) alone, and ``--dry-run`` is simply "stop after plan".
"""
