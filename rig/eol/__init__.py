"""The end-of-line station: the sequence as data (``sequence``), one unit through it (``unit``), the slots
running units at once (``station``)."""
