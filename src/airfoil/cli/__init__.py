"""The `airfoil` command line; heavy imports happen inside each command."""
