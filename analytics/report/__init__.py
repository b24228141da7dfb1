"""What the screens, the command line and the exports add up: the per-patient facts and the
summary built from them."""
