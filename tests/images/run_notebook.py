"""Run a getting-started notebook headless, INSIDE an image environment (nbclient and
ipykernel are in every image's lock):

    <image venv>/bin/python run_notebook.py <notebook.ipynb> <executed.ipynb>

Cells tagged ``needs-mast-web-service`` are left out (this machine cannot reach MAST);
everything else runs in order in the environment's own kernel, with the working
directory next to the executed copy. The executed notebook is written even when a cell
fails, so the test can show the failing cell's traceback. Exit status 0 when every cell
ran, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

MAST_TAG = "needs-mast-web-service"


def main() -> int:
    source, executed = Path(sys.argv[1]), Path(sys.argv[2])
    notebook = nbformat.read(source, as_version=4)
    notebook.cells = [c for c in notebook.cells if MAST_TAG not in c.metadata.get("tags", [])]
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(executed.parent)}},
    )
    status = 0
    try:
        client.execute()
    except CellExecutionError as error:
        print(error, file=sys.stderr)
        status = 1
    nbformat.write(notebook, executed)
    return status


if __name__ == "__main__":
    sys.exit(main())
