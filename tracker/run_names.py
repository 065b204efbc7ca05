"""Random run names (``bold-owl-42``), as MLflow gives a run started without a name."""

from __future__ import annotations

import random

_ADJECTIVES = ["amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fast", "gentle", "grand", "happy", "keen", "lively", "lucid", "merry", "mighty", "nimble", "noble", "proud", "quick", "quiet", "rapid", "sharp", "shiny", "silent", "smart", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise"]
_NOUNS = ["ant", "bat", "bear", "bee", "bird", "cat", "crow", "deer", "dove", "duck", "eel", "elk", "fox", "frog", "goat", "hawk", "hen", "horse", "lark", "lion", "lynx", "mole", "moth", "newt", "owl", "ox", "panda", "rat", "ram", "seal", "shark", "sheep", "slug", "snail", "swan", "toad", "trout", "whale", "wolf", "wren", "yak"]


def random_run_name() -> str:
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 999)}"
