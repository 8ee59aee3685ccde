"""Market Structure backend: validates, stores datasets and runs, enqueues fits, serves results.

Kept light on purpose: nothing here imports PyMC, PyTensor, StepMix or prince.
"""

__version__ = "0.1.0"
