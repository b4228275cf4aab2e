from dataclasses import dataclass

from .base import Strategy


@dataclass
class Scratch(Strategy):
    name = "scratch"
    why = "Fresh G and D from random weights: the baseline every transfer method must beat."
    order = 0
