"""Interactive widgets for the notebooks, one submodule per lesson.

Every widget wraps a pure function that returns a figure or numbers (tested without a browser by
setting a control's ``.value`` and checking the result); sliders that run the model use
``continuous_update=False``.
"""
