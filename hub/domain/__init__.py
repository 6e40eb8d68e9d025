"""Pure rules of the hub. Standard library only; `now` is always passed in."""
