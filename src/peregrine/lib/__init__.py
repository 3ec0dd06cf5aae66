"""Small helpers with no Peregrine imports."""
