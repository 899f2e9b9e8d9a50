"""Map the repository's top-level folders onto the installed `imcc` package.

`imcc/` is the facade (`imcc.compile`, `imcc.run`); `compiler/` installs as
`imcc.compiler` and `runtime/` as `imcc.runtime`.
"""

import os

from setuptools import setup

PACKAGE_ROOTS = {"imcc": "imcc", "imcc.compiler": "compiler", "imcc.runtime": "runtime"}


def _packages():
    names, dirs = [], {}
    for name, root in PACKAGE_ROOTS.items():
        for folder, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            if "__init__.py" not in files:
                continue
            rel = os.path.relpath(folder, root)
            pkg = name if rel == "." else name + "." + rel.replace(os.sep, ".")
            names.append(pkg)
            dirs[pkg] = folder
    return names, dirs


packages, package_dir = _packages()
setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.lark", "*.toml", "*.s", "*.npz", "*.md"]},
    include_package_data=True,
)
