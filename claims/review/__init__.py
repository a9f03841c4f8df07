"""Review: the queue of claims waiting for an assessor, their decisions, and sampling.

Pure frames in, frames out, like the other stages; the store keeps the queue, the
decisions (append-only) and the samples, and the pipeline composes them.
"""

from __future__ import annotations

__all__: list[str] = []
