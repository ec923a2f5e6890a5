"""Front ends that show a workspace rather than print it: `dws report` (one self-contained
HTML file)."""
