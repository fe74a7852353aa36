"""Linux /proc views of processes, for tests that kill drivers and watch their workers."""

from pathlib import Path


def children(pid):
    """Process ids of the children of ``pid`` ([] if unknown)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid):
    """True while process ``pid`` runs (a zombie has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
