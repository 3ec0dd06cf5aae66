"""The operator's and power user's interface: `peregrine --help`."""
