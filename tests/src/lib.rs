//! Shared helpers for the root integration tests live in the test targets.
