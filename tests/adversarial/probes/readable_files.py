"""A probe (not a cheat): lists what the child can read under the folders it is given."""
import os


def readable_files(roots, allowed):
    """Files under ``roots`` the child can open, outside ``allowed``; and how many inside it."""
    outside, inside, seen = [], 0, set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            if dirpath in seen:
                dirnames[:] = []
                continue
            seen.add(dirpath)
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as f:
                        f.read(1)
                except OSError:
                    continue
                if any(path == a or path.startswith(a + "/") for a in allowed):
                    inside += 1
                elif len(outside) < 2000:
                    outside.append(path)
    return outside, inside


def can_read(paths):
    out = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.read(1)
            out.append(True)
        except OSError:
            out.append(False)
    return out
