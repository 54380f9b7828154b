"""How many valid events a forwarder commits in one transaction, unless ``--batch-size`` says.

Workers of ``forward --workers`` that share one SQLite file commit half as often: each commit
empties the page cache of every other connection to the file, which then reads back the index
pages its next insert touches, and rewrites them in its own commit.  2 workers, 600,000
real-size events: 553,000 page reads and 927,000 writes at 5,000 a batch, 351,000 and 626,000
at 10,000 (one process alone: 121,000 and 744,000).  About 15 MB more held per worker.
"""

BATCH_SIZE = 5000
SHARED_FILE_BATCH_SIZE = 10_000
