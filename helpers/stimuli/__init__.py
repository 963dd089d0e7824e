"""Synthetic stimuli, model-free: each submodule draws one kind of parametric image in [0, 1].

``helpers.stimuli.curves``: curves, lines, angles, circles, spirals and grids over parameters;
``helpers.stimuli.boundaries``: high-low frequency boundaries and blurred-background photographs.
"""
