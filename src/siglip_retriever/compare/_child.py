"""Entry point of the child process that measures one model: ``python -m siglip_retriever.compare._child``.

Kept apart from :mod:`siglip_retriever.compare.processes` so that the job and result classes of
:mod:`siglip_retriever.compare.measuring` are imported under their own module names, never as
``__main__`` (they must unpickle to the same classes in both processes).
"""

from __future__ import annotations

import sys

from siglip_retriever.compare.processes import child_entry

if __name__ == "__main__":
    sys.exit(child_entry(sys.argv[1], sys.argv[2]))
