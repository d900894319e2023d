"""Helpers shared by the PHP interop tests: the fixtures' typed values and strict comparison."""


def from_typed(t):
    """A typed PHP value from the fixtures ({"a": [[key, value], ...]} for arrays) -> what loads() returns."""
    if isinstance(t, dict):
        keys = [k for k, _ in t["a"]]
        vals = [from_typed(v) for _, v in t["a"]]
        return vals if keys == list(range(len(keys))) else dict(zip(keys, vals))
    return t


def strict(v):
    """A comparable form where True != 1, "1" != 1 and lists != dicts."""
    if isinstance(v, dict):
        return ("dict", [(strict(k), strict(x)) for k, x in v.items()])
    if isinstance(v, list):
        return ("list", [strict(x) for x in v])
    return (type(v).__name__, v)
