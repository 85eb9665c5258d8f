"""``python -m siglip_retriever.cli``: the ``siglip-retriever`` command, run as a module."""

from siglip_retriever.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
