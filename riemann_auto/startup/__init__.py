"""Starting up: get in before the program's code runs, and import nothing on its behalf.

`launcher` (riemann-run) -> sitecustomize_hook -> `bootstrap` -> post-import
hooks (`importhooks`) that patch `targets` and activate instrumentors.
"""
