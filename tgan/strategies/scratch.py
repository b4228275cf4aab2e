from dataclasses import dataclass

from .base import Strategy


@dataclass
class Scratch(Strategy):
    name = "scratch"
    order = 0
