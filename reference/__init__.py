"""Reference layer: the accepted answers of HW11, as sympy derivations and numpy implementations."""
