"""The end-of-line station: the sequence as data (``sequence``), one unit through it (``unit``), its LED step in
real time (``led``), the slots running units at once (``station``)."""
