"""Complete programs that put the chapters' ideas together, one module each."""
