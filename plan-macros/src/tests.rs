//! Unit tests of the macro: snapshots of expansions and the parser on broken input.
