//! Breakout-safe layer extraction into overlayfs-convention directories.
