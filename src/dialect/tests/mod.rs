//! Unit tests of the dialect rules.
